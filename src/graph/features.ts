/**
 * What a cloud's Graph serves of the drive API, where clouds differ. The client asks these, never
 * the cloud's name, so the differences live in this one table.
 */
export interface GraphFeatures {
  /**
   * `root:/a/b:` and `items/{id}:/name:` address items. 21Vianet drops the path and answers for
   * the base item (rclone/rclone#3973; microsoftgraph/microsoft-graph-docs#12238), so there items
   * are addressed by id, or by name under a folder id with `children('{name}')`
   * (rclone/rclone backend/onedrive/onedrive.go, "URL Build routine area").
   */
  pathAddressing: boolean;
  /** `root/delta` is served. Not in 21Vianet: rclone/rclone#6444. */
  delta: boolean;
}

export const FULL_GRAPH: GraphFeatures = { pathAddressing: true, delta: true };

const BY_CLOUD: Record<string, GraphFeatures> = {
  global: FULL_GRAPH,
  china: { pathAddressing: false, delta: false },
  usgov: FULL_GRAPH,
  usgovdod: FULL_GRAPH,
};

/**
 * The features of a national cloud by name (`global`, `china`, `usgov`, `usgovdod`). An unknown
 * cloud gets the least: addressing by id and the TTL work everywhere, paths could land on the wrong item.
 */
export function graphFeaturesOf(cloud: string | undefined): GraphFeatures {
  return (cloud !== undefined && BY_CLOUD[cloud]) || { pathAddressing: false, delta: false };
}
