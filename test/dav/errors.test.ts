import { describe, expect, it } from 'vitest';
import { DavError, destinationRefusal, errorBody, toDavError } from '../../src/dav/protocol/errors.js';
import { DavPathError } from '../../src/dav/protocol/paths.js';
import { XmlError } from '../../src/dav/protocol/xml.js';
import { DriveError, type DriveErrorKind } from '../../src/drive/index.js';
import { driveErrorFromGraph, type DriveOperation } from '../../src/drive/graph-errors.js';
import { GraphError } from '../../src/graph/errors.js';

const graph = (status: number, code: string, retryAfter?: number) => new GraphError(status, code, `graph says ${code}`, retryAfter);
const drive = (kind: DriveErrorKind, message = `drive says ${kind}`, retryAfter?: number) => new DriveError(kind, message, { retryAfter });

describe('toDavError: the one mapping from drive failures to WebDAV statuses', () => {
  it.each<[DriveErrorKind, number]>([
    ['notFound', 404],
    ['parentMissing', 409],
    ['exists', 409],
    ['isFolder', 409],
    ['notFolder', 409],
    ['forbidden', 403],
    ['invalidName', 400],
    ['badRequest', 400],
    ['changed', 412],
    ['rangeNotSatisfiable', 416],
    ['noSpace', 507],
    ['busy', 503],
    ['signInNeeded', 503],
    ['unreachable', 502],
    ['timedOut', 504],
    ['corrupted', 502],
    ['notSupported', 501],
    ['upstream', 502],
  ])('%s → %i', (kind, status) => {
    expect(toDavError(drive(kind)).status).toBe(status);
  });

  it('COPY, MOVE and LOCK answer 412 for an existing destination (their handlers say so)', () => {
    expect(destinationRefusal(drive('exists')).status).toBe(412);
    expect(destinationRefusal(drive('parentMissing')).status).toBe(409);
  });

  it('passes Retry-After on when busy beyond the retry budget', () => {
    expect(toDavError(drive('busy', 'throttled.', 7)).extra.headers).toEqual({ 'Retry-After': '7' });
    expect(toDavError(drive('busy', 'throttled.')).extra.headers).toEqual({ 'Retry-After': '30' });
  });

  it('puts the drive’s reason for an invalid name in the body', () => {
    const err = toDavError(drive('invalidName', 'Cannot use "/a:b": OneDrive does not allow the character ":"'));
    expect(errorBody(err).body).toContain('does not allow the character ":"');
  });
});

describe('GraphDrive’s edge: Graph errors → drive kinds, knowing the operation (and so WebDAV statuses)', () => {
  it.each<[GraphError, DriveOperation, DriveErrorKind, number]>([
    [graph(404, 'itemNotFound'), 'stat', 'notFound', 404],
    [graph(404, 'itemNotFound'), 'remove', 'notFound', 404],
    [graph(404, 'itemNotFound'), 'write', 'parentMissing', 409],
    [graph(404, 'itemNotFound'), 'mkdir', 'parentMissing', 409],
    [graph(404, 'itemNotFound'), 'copy', 'parentMissing', 409],
    [graph(409, 'nameAlreadyExists'), 'setModified', 'exists', 409],
    [graph(403, 'accessDenied'), 'read', 'forbidden', 403],
    [graph(507, 'quotaLimitReached'), 'write', 'noSpace', 507],
    [graph(400, 'invalidName'), 'write', 'invalidName', 400],
    [graph(400, 'invalidRequest'), 'write', 'badRequest', 400],
    [graph(400, 'sizeMismatch'), 'write', 'badRequest', 400],
    [graph(412, 'preconditionFailed'), 'write', 'changed', 412],
    [graph(416, 'invalidRange'), 'read', 'rangeNotSatisfiable', 416],
    [graph(429, 'activityLimitReached', 7), 'read', 'busy', 503],
    [graph(503, 'serviceNotAvailable'), 'read', 'busy', 503],
    [graph(401, 'InvalidAuthenticationToken'), 'read', 'signInNeeded', 503],
    [graph(0, 'networkError'), 'read', 'unreachable', 502],
    [graph(0, 'timeout'), 'read', 'timedOut', 504],
    [graph(500, 'hashMismatch'), 'write', 'corrupted', 502],
    [graph(410, 'uploadSessionLost'), 'write', 'upstream', 502],
    [graph(409, 'uploadSessionBusy', 30), 'write', 'busy', 503],
    [graph(500, 'generalException'), 'read', 'upstream', 502],
  ])('%s during %s → %s → %i', (err, op, kind, status) => {
    const translated = driveErrorFromGraph(err, op);
    expect(translated).toBeInstanceOf(DriveError);
    expect((translated as DriveError).kind).toBe(kind);
    expect(toDavError(translated).status).toBe(status);
  });

  it('keeps Graph’s Retry-After', () => {
    expect(toDavError(driveErrorFromGraph(graph(429, 'activityLimitReached', 7), 'read')).extra.headers).toEqual({ 'Retry-After': '7' });
    expect(toDavError(driveErrorFromGraph(graph(503, 'serviceNotAvailable'), 'read')).extra.headers).toEqual({ 'Retry-After': '30' });
    expect(toDavError(driveErrorFromGraph(graph(409, 'uploadSessionBusy', 30), 'write')).extra.headers).toEqual({ 'Retry-After': '30' });
  });

  it('says what happened and what to do on a hash mismatch', () => {
    const err = new GraphError(502, 'hashMismatch', 'The stored file differs; the previous version was restored. Upload again.');
    expect(toDavError(driveErrorFromGraph(err, 'write')).message).toMatch(/hash mismatch.*previous version was restored\. Upload again/);
  });

  it('lets no Graph error through to the WebDAV layer as such', () => {
    expect(toDavError(graph(404, 'itemNotFound')).status).toBe(500);
  });
});

describe('toDavError: everything else', () => {
  it('turns bad input into 400, never 500', () => {
    expect(toDavError(new DavPathError('bad')).status).toBe(400);
    expect(toDavError(new XmlError('bad')).status).toBe(400);
  });

  it('hides internal errors behind a generic 500', () => {
    const err = toDavError(new Error('secret internal detail'));
    expect(err.status).toBe(500);
    expect(err.message).not.toContain('secret');
  });

  it('writes RFC 4918 condition bodies as XML, plain messages as text', () => {
    const locked = errorBody(new DavError(423, 'locked', { condition: 'lock-token-submitted', conditionBody: '<D:href>/a</D:href>' }));
    expect(locked.contentType).toMatch(/application\/xml/);
    expect(locked.body).toContain('<D:error xmlns:D="DAV:"><D:lock-token-submitted><D:href>/a</D:href></D:lock-token-submitted>');
    expect(errorBody(new DavError(404, 'Not found.')).contentType).toMatch(/text\/plain/);
  });
});
