export type { ByteRange, DriveCapabilities, DriveEntry, ItemWithChildren, Quota, ReadBody, RemoteDrive, WriteOptions } from './types.js';
export { MemoryDrive, type MemoryDriveOptions } from './memory-drive.js';
export { GraphDrive, toEntry, type GraphDriveOptions, type SharedDriveState } from './graph-drive.js';
export type { WriteOwnership } from './write-ownership.js';
export { createGraphDrive, type CreateGraphDriveOptions } from './factory.js';
export { DriveMemoryFile, driveMemoryKey, type DriveMemory } from './drive-memory.js';
export { nameProblem, pathProblem, assertValidPath } from './names.js';
/** The error every drive operation fails with; `dav/` maps its kind to WebDAV statuses. */
export { DriveError, isDriveError, type DriveErrorKind } from './errors.js';
/** The `.onedav-aside-<random>-<name>` names an item replaced by a COPY or MOVE is kept under until the work is done. */
export { asideNameFor, ASIDE_PREFIX } from './replace.js';
