import { describe, expect, it } from 'vitest';
import { parseCollectionPage } from '../../src/graph/collection-page.js';

const bytes = (text: string) => new Uint8Array(Buffer.from(text, 'utf8'));

/** Issue 16: a Graph page parsed member by member gives what JSON.parse of the whole gives, and fails where it fails. */
describe('parseCollectionPage', () => {
  const pages = [
    '{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#x","value":[{"id":"1","name":"a"},{"id":"2","name":"b"}],"@odata.nextLink":"https://graph.microsoft.com/v1.0/next?$skiptoken=x"}',
    '{"value":[]}',
    ' { "value" : [ { "a" : [1, {"b": "]}"}] } , 2 , "s\\"tr,]" , null , true , [3,[4]] ] , "@odata.deltaLink" : "d" } ',
    '{"@odata.nextLink":"n","value":[{"name":"naïve 日本語 \\u00e9 \\\\ \\"q\\" {[,]}","x":{"value":[9]}}]}',
    '{"valueX":[1],"value":[{"k":"value"}],"other":{"value":[5,6]}}',
    '\ufeff{"value":[{"id":"bom"}]}',
    '{"value":[1,2]}',
    '{"value":["ends with a backslash \\\\","\\\\\\"",{"k\\\\":"v\\\\\\\\"}],"@odata.nextLink":"n"}',
  ];
  it.each(pages)('equals JSON.parse of the whole: %s', (text) => {
    expect(parseCollectionPage(bytes(text))).toEqual(JSON.parse(text.replace(/^\ufeff/, '')));
  });

  it('parses a 1,000-item page of children as JSON.parse does', () => {
    const page = {
      '@odata.context': 'ctx',
      value: Array.from({ length: 1000 }, (_, i) => ({ id: `id${i}`, name: `document ${i}.txt`, file: { hashes: { quickXorHash: 'AAAA=' } }, '@microsoft.graph.downloadUrl': `https://x/dl/${i}?a=b,c]` })),
      '@odata.nextLink': 'https://graph/next',
    };
    const text = JSON.stringify(page, null, 1);
    expect(parseCollectionPage(bytes(text))).toEqual(page);
  });

  it.each(['{"value":[1,]}', '{"value":[,1]}', '{"value":[{"a":1}', '{"value":[{"a":1}]', '{"value":[{"a":1}]}x', '{"value":[{"a":}]}', '{"value":[1],"value":[2]} junk'])('fails where JSON.parse fails: %s', (text) => {
    expect(() => JSON.parse(text)).toThrow();
    expect(() => parseCollectionPage(bytes(text))).toThrow();
  });

  it('takes a body without a value array as JSON.parse does (duplicate keys: the last wins)', () => {
    for (const text of ['{"error":{"code":"x"}}', '[1,2]', '{"value":[1],"value":[2]}', '"s"', '{"value":{"a":[1]}}']) expect(parseCollectionPage(bytes(text))).toEqual(JSON.parse(text));
  });
});
