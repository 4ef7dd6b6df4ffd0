import { Logger } from '@nestjs/common';
import { TenantContext, type Tenant } from '../tenancy/tenant-context';
import { createRootLogger, logFormatFor, PinoNestLogger } from './logger';
import { UNLIMITED_ENTITLEMENTS } from '../../test/helpers/tenants';

describe(PinoNestLogger.name, () => {
  const tenant: Tenant = { id: '00000000-0000-4000-8000-000000000001', slug: 'acme', name: 'Acme', status: 'active', plan: 'free', entitlements: UNLIMITED_ENTITLEMENTS, database: 'shared' };

  function capture(level = 'log') {
    const lines: Array<Record<string, any>> = [];
    const sut = new PinoNestLogger(createRootLogger({ level, format: 'json', destination: { write: (line: string) => void lines.push(JSON.parse(line)) } }));
    return { sut, lines };
  }

  it('stamps tenantId and requestId on lines written inside a tenant scope, and only there', () => {
    const { sut, lines } = capture();
    TenantContext.run({ tenant, requestId: 'req-1' }, () => sut.log('inside', 'Documents'));
    sut.log('outside', 'Documents');
    expect(lines[0]).toMatchObject({ level: 30, msg: 'inside', context: 'Documents', tenantId: tenant.id, requestId: 'req-1' });
    expect(lines[1]).not.toHaveProperty('tenantId');
    expect(lines[1]).not.toHaveProperty('requestId');
  });

  it("maps Nest's levels and calling conventions onto pino's", () => {
    const { sut, lines } = capture('warn');
    sut.log('dropped: below warn');
    sut.warn('careful', 'Ctx');
    sut.error('failed', 'Error: x\n    at y', 'Ctx');
    sut.error({ msg: 'as fields', requestId: 'r' }, 'Ctx');
    expect(lines).toEqual([
      expect.objectContaining({ level: 40, msg: 'careful', context: 'Ctx' }),
      expect.objectContaining({ level: 50, msg: 'failed', context: 'Ctx', stack: 'Error: x\n    at y' }),
      expect.objectContaining({ level: 50, msg: 'as fields', requestId: 'r', context: 'Ctx' }),
    ]);
  });

  it('routes Nest Logger instances through pino once installed', () => {
    const { sut, lines } = capture();
    Logger.overrideLogger(sut);
    try {
      new Logger('Feature').log('hello');
    } finally {
      Logger.overrideLogger(false as never);
    }
    expect(lines).toEqual([expect.objectContaining({ msg: 'hello', context: 'Feature' })]);
  });

  it('redacts credentials a caller passes by mistake', () => {
    const { sut, lines } = capture();
    sut.log({ msg: 'oops', req: { headers: { authorization: 'Bearer abc', cookie: 'sid=abc', 'x-api-key': 'k' } }, body: { password: 'p', token: 't' } });
    expect(JSON.stringify(lines)).not.toMatch(/abc|"p"|"t"|"k"/);
  });

  it('is JSON unless a development terminal reads it or LOG_FORMAT says otherwise', () => {
    expect(logFormatFor({ NODE_ENV: 'development' }, true)).toBe('pretty');
    expect(logFormatFor({ NODE_ENV: 'development' }, false)).toBe('json');
    expect(logFormatFor({ NODE_ENV: 'production' }, true)).toBe('json');
    expect(logFormatFor({ NODE_ENV: 'production', LOG_FORMAT: 'pretty' }, false)).toBe('pretty');
  });
});
