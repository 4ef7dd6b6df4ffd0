import { DocumentsRepository } from '../../src/documents/documents.repository';
import { DocumentsService } from '../../src/documents/documents.service';
import { MissingTenantContextError, TenantContext } from '../../src/tenancy/tenant-context';
import { TenantResolver } from '../../src/tenants/tenant-resolver.service';
import { startTestApp, TestApp } from '../helpers/test-app';

/** Scripts and jobs work for a tenant through the same context as requests. */
describe('TenantResolver.runForTenant', () => {
  let t: TestApp;
  let tenancy: TenantResolver;
  let documents: DocumentsRepository;

  beforeAll(async () => {
    t = await startTestApp();
    tenancy = t.app.get(TenantResolver);
    documents = t.app.get(DocumentsRepository);
    const service = t.app.get(DocumentsService);
    const acme = await t.createTenant('job-acme');
    await t.createTenant('job-globex');
    await tenancy.runForTenant('job-acme', () => service.create({ title: 'acme job doc', body: '', tags: [] }));
    await tenancy.runForTenant(acme.id, () => service.create({ title: 'acme job doc 2', body: '', tags: [] }));
  });
  afterAll(() => t?.close());

  it('runs with the tenant context, by slug or id, and sees only that tenant', async () => {
    const seen = await tenancy.runForTenant('job-acme', async () => {
      expect(TenantContext.current().slug).toBe('job-acme');
      return documents.list({ limit: 10 });
    });
    expect(seen.map((d) => d.title).sort()).toEqual(['acme job doc', 'acme job doc 2']);
    expect(await tenancy.runForTenant('job-globex', () => documents.list({ limit: 10 }))).toEqual([]);
  });

  it('refuses unknown and suspended tenants, and code outside any tenant', async () => {
    await expect(tenancy.runForTenant('job-nobody', async () => 1)).rejects.toMatchObject({ code: 'TENANT_NOT_FOUND' });
    await t.request('PATCH', '/tenants/job-globex', { admin: true, body: { status: 'suspended' } });
    await expect(tenancy.runForTenant('job-globex', async () => 1)).rejects.toMatchObject({ code: 'TENANT_SUSPENDED' });
    await expect(documents.list({ limit: 10 })).rejects.toBeInstanceOf(MissingTenantContextError);
  });
});
