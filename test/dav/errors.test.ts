import { describe, expect, it } from 'vitest';
import { DavError, errorBody, toDavError, type Operation } from '../../src/dav/errors.js';
import { DavPathError } from '../../src/dav/paths.js';
import { XmlError } from '../../src/dav/xml.js';
import { GraphError } from '../../src/drive/index.js';

const graph = (status: number, code: string, retryAfter?: number) => new GraphError(status, code, `graph says ${code}`, retryAfter);

describe('toDavError: the one mapping from failures to WebDAV statuses', () => {
  it.each<[GraphError, Operation, number]>([
    [graph(404, 'itemNotFound'), 'read', 404],
    [graph(404, 'itemNotFound'), 'delete', 404],
    [graph(404, 'itemNotFound'), 'create', 409],
    [graph(404, 'itemNotFound'), 'mkcol', 409],
    [graph(404, 'itemNotFound'), 'copy', 409],
    [graph(409, 'parentNotFound'), 'create', 409],
    [graph(409, 'nameAlreadyExists'), 'mkcol', 405],
    [graph(409, 'nameAlreadyExists'), 'copy', 412],
    [graph(409, 'nameAlreadyExists'), 'move', 412],
    [graph(409, 'nameAlreadyExists'), 'props', 409],
    [graph(403, 'accessDenied'), 'read', 403],
    [graph(507, 'quotaLimitReached'), 'create', 507],
    [graph(400, 'invalidName'), 'create', 400],
    [graph(400, 'invalidRequest'), 'create', 400],
    [graph(400, 'sizeMismatch'), 'create', 400],
    [graph(412, 'preconditionFailed'), 'create', 412],
    [graph(416, 'invalidRange'), 'read', 416],
    [graph(429, 'activityLimitReached', 7), 'read', 503],
    [graph(503, 'serviceNotAvailable'), 'read', 503],
    [graph(401, 'InvalidAuthenticationToken'), 'read', 503],
    [graph(0, 'networkError'), 'read', 502],
    [graph(0, 'timeout'), 'read', 504],
    [graph(500, 'hashMismatch'), 'create', 502],
    [graph(410, 'uploadSessionLost'), 'create', 502],
    [graph(409, 'uploadSessionBusy', 30), 'create', 503],
    [graph(500, 'generalException'), 'read', 502],
  ])('%s during %s → %i', (err, op, status) => {
    expect(toDavError(err, op).status).toBe(status);
  });

  it('passes Retry-After on when throttled beyond the retry budget', () => {
    expect(toDavError(graph(429, 'activityLimitReached', 7)).extra.headers).toEqual({ 'Retry-After': '7' });
    expect(toDavError(graph(503, 'serviceNotAvailable')).extra.headers).toEqual({ 'Retry-After': '30' });
    expect(toDavError(graph(409, 'uploadSessionBusy', 30), 'create').extra.headers).toEqual({ 'Retry-After': '30' });
  });

  it('puts the drive’s reason for an invalid name in the body', () => {
    const err = toDavError(new GraphError(400, 'invalidName', 'Cannot use "/a:b": OneDrive does not allow the character ":"'), 'create');
    expect(errorBody(err).body).toContain('does not allow the character ":"');
  });

  it('says what happened and what to do on a hash mismatch', () => {
    const err = new GraphError(502, 'hashMismatch', 'The stored file differs; the previous version was restored. Upload again.');
    expect(toDavError(err, 'create').message).toMatch(/hash mismatch.*previous version was restored\. Upload again/);
  });

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
