import type { EmulatorService, RequestContext, SharedState } from '../context.js';

/** Placeholder until the drive half of the emulator lands: answers nothing. */
export class DriveService implements EmulatorService {
  constructor(readonly shared: SharedState) {}
  async handle(_ctx: RequestContext): Promise<boolean> {
    return false;
  }
  async handleAdmin(_ctx: RequestContext, _subpath: string): Promise<boolean> {
    return false;
  }
  async load(): Promise<void> {}
  async flush(): Promise<void> {}
}
