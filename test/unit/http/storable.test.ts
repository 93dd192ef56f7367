import { expect } from 'chai';
import { AppError, knownError, problemOf } from '../../../server/errors.js';
import { checkStorableTree, unstorable } from '../../../server/http/storable.js';

function pathOf(value: unknown, base = ''): string | undefined {
  try {
    checkStorableTree(value, base);
    return undefined;
  } catch (err) {
    expect(err).to.be.instanceOf(AppError);
    return (err as AppError).errors?.[0]?.path;
  }
}

describe('storable text', () => {
  it('NUL and unpaired surrogates are not storable; pairs and everything else are', () => {
    for (const s of ['\0', 'a\0', '\ud800', 'a\ud800b', '\udfff', 'x\udc00', '\ude00\ud83d']) expect(unstorable(s), JSON.stringify(s)).to.equal(true);
    for (const s of ['', 'plain', '\ud83d\ude00', 'é中\u0001\uffff', '\ud83d\ude00\ud83d\ude00']) expect(unstorable(s), JSON.stringify(s)).to.equal(false);
  });

  it('names the first bad string by its path, keys included', () => {
    expect(pathOf({ name: 'ok', events: [{ id: 'a' }, { id: 'b' }, { id: 'c' }, { id: 'd\0' }] })).to.equal('events.3.id');
    expect(pathOf({ a: { 'b\ud800': 1 } })).to.equal('a.b\ufffd');
    expect(pathOf({ id: 'x\0' }, 'params')).to.equal('params.id');
    expect(pathOf({ tenantId: ['a', '\0'] }, 'query')).to.equal('query.tenantId.1');
    expect(pathOf({ n: 1, b: true, z: null, s: 'fine' })).to.equal(undefined);
  });
});

describe('knownError: database errors a client value causes are 400, others stay unexpected', () => {
  for (const code of ['22P05', '22021', '22003', '22008', '22007', '22P02', '22001', '2201W', '2201X', '54000']) {
    it(code, () => {
      const known = knownError(Object.assign(new Error('db'), { code }));
      expect(known && problemOf(known).status).to.equal(400);
    });
  }
  for (const code of ['08006', '40001', '57P01', '53300', '42P01', '23502', 'XX000']) {
    it(`${code} is not the client's`, () => {
      expect(knownError(Object.assign(new Error('db'), { code }))).to.equal(undefined);
    });
  }
  it('unavailable is a 503', () => {
    expect(problemOf(new AppError('unavailable', 'busy')).status).to.equal(503);
  });
});
