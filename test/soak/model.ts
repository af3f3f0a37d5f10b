/**
 * What the soak's clients were told, as a set of possible states per path.
 *
 * A path is `absent`, a `folder`, or a file holding one content version (its id). After an
 * acknowledged operation (2xx) the affected paths have exactly one possible state. After a refused
 * one (4xx) nothing changed. After a failed (5xx) or unknown one (the connection to the client
 * broke), every affected path may be in its old or its new state, or in a state in between (a
 * destination emptied before the move that failed), so the sets grow; except a file moved or copied
 * onto a file, whose destination must hold the old or the new version: it is never lost. An operation whose answer
 * never came may still land later: its new states stay possible on those paths forever ("sticky").
 *
 * The end check compares each path's set with the drive: a file must hold exactly the bytes of one
 * of its possible versions, a path that must exist must exist, a path that must be absent must be.
 */
export type State = 'absent' | 'folder' | number;

/**
 * ok: 2xx. refused: 4xx (nothing was done), or our own mid-body abort (the new bytes never all
 * arrived). failed: 5xx (the server answered; it may have done part of the work). unknown: no answer
 * at all, or a timeout: the work may even land later.
 */
export type Outcome = 'ok' | 'refused' | 'failed' | 'unknown';

export class Model {
  private readonly states = new Map<string, Set<State>>();
  private readonly sticky = new Map<string, Set<State>>();

  get(path: string): ReadonlySet<State> {
    return this.states.get(path) ?? ABSENT;
  }

  paths(): string[] {
    return [...this.states.keys()];
  }

  /** The known paths strictly below `path`. */
  below(path: string): string[] {
    const prefix = `${path}/`;
    return this.paths().filter((p) => p.startsWith(prefix));
  }

  /** Direct children of `path` the model has heard of. */
  children(path: string): string[] {
    const prefix = `${path}/`;
    return this.paths().filter((p) => p.startsWith(prefix) && !p.slice(prefix.length).includes('/'));
  }

  mustExist(path: string): boolean {
    return !this.get(path).has('absent');
  }

  mustBeAbsent(path: string): boolean {
    const s = this.get(path);
    return s.size === 1 && s.has('absent');
  }

  mustBeFolder(path: string): boolean {
    const s = this.get(path);
    return s.size === 1 && s.has('folder');
  }

  mayBeFolder(path: string): boolean {
    return this.get(path).has('folder');
  }

  mustBeFile(path: string): boolean {
    return [...this.get(path)].every((s) => typeof s === 'number');
  }

  versions(path: string): number[] {
    return [...this.get(path)].filter((s): s is number => typeof s === 'number');
  }

  // ---- transitions -------------------------------------------------------------------------

  /** Creates `path` as `state` (PUT, MKCOL): `root` is the client's root, which always exists. */
  create(path: string, state: State, outcome: Outcome, root: string): void {
    if (outcome === 'refused') return;
    if (outcome === 'ok') {
      this.assign(path, [state]);
      for (const a of ancestors(path, root)) this.assign(a, ['folder']);
      // A file replaced nothing below it; a new folder has nothing below it yet.
      for (const p of this.below(path)) this.assign(p, ['absent']);
    } else {
      this.widen(path, [state]);
      this.stick(path, outcome, [state]);
    }
  }

  remove(path: string, outcome: Outcome): void {
    if (outcome === 'refused') return;
    for (const p of [path, ...this.below(path)]) {
      if (outcome === 'ok') this.assign(p, ['absent']);
      else {
        this.widen(p, ['absent']);
        this.stick(p, outcome, ['absent']);
      }
    }
  }

  /** COPY or MOVE of `from` (and everything below) onto `to`, replacing what was there. */
  transfer(from: string, to: string, kind: 'copy' | 'move', outcome: Outcome, root: string): void {
    if (outcome === 'refused') return;
    const next = new Map<string, Set<State>>();
    const rootStates = new Set([...this.get(from)].filter((s) => s !== 'absent'));
    next.set(to, rootStates);
    for (const p of this.below(from)) next.set(to + p.slice(from.length), new Set(this.get(p)));
    for (const p of this.below(to)) if (!next.has(p)) next.set(p, new Set(['absent']));
    const vacated = kind === 'move' ? [from, ...this.below(from)].filter((p) => !next.has(p)) : [];

    if (outcome === 'ok') {
      for (const [p, s] of next) this.assign(p, s);
      for (const p of vacated) this.assign(p, ['absent']);
      for (const a of ancestors(to, root)) this.assign(a, ['folder']);
      return;
    }
    // Failed or unknown: old, new, or half-way (the destination removed first, members copied one by one).
    // A file onto a file is the exception: the old file is set aside and put back, never deleted
    // first, so that destination holds the old or the new version and is never lost.
    const fileOverFile = !this.mayBeFolder(from) && !this.mayBeFolder(to);
    for (const [p, s] of next) {
      const states: State[] = p === to && fileOverFile ? [...s] : [...s, 'absent'];
      this.widen(p, states);
      this.stick(p, outcome, states);
    }
    for (const p of vacated) {
      this.widen(p, ['absent']);
      this.stick(p, outcome, ['absent']);
    }
  }

  // ---- internals ---------------------------------------------------------------------------

  private assign(path: string, states: Iterable<State>): void {
    const set = new Set(states);
    for (const s of this.sticky.get(path) ?? []) set.add(s);
    this.states.set(path, set);
  }

  private widen(path: string, states: Iterable<State>): void {
    const set = new Set(this.get(path));
    for (const s of states) set.add(s);
    this.states.set(path, set);
  }

  /** Only an answer that never came (outcome unknown) may still change the path later. */
  private stick(path: string, outcome: Outcome, states: Iterable<State>): void {
    if (outcome !== 'unknown') return;
    const set = this.sticky.get(path) ?? new Set<State>();
    for (const s of states) set.add(s);
    this.sticky.set(path, set);
  }
}

const ABSENT: ReadonlySet<State> = new Set<State>(['absent']);

/** `/r/a/b/c` with root `/r` → `['/r/a', '/r/a/b']`. */
export function ancestors(path: string, root: string): string[] {
  const out: string[] = [];
  let at = path.slice(0, path.lastIndexOf('/'));
  while (at.length > root.length) {
    out.push(at);
    at = at.slice(0, at.lastIndexOf('/'));
  }
  return out.reverse();
}

export function parentOf(path: string): string {
  return path.slice(0, path.lastIndexOf('/'));
}
