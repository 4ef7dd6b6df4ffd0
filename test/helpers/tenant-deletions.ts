import type { TestApp } from './test-app';

/**
 * DELETE /tenants/:idOrSlug answers 202 at once and deletes in the background (README "Offboarding"):
 * polls GET /tenant-deletions/:id until the report is completed or failed, within a deadline (a bound
 * on the run, not an assertion on speed). Returns the report as that route shows it.
 */
export async function settledDeletion(t: TestApp, id: string, options: { deadlineMs?: number; baseUrl?: string } = {}): Promise<any> {
  const deadline = Date.now() + (options.deadlineMs ?? 60_000);
  let last: { status: number; body: any } | undefined;
  while (Date.now() < deadline) {
    last = await t.request('GET', `/tenant-deletions/${id}`, { admin: true, baseUrl: options.baseUrl });
    if (last.status !== 200) throw new Error(`GET /tenant-deletions/${id} -> ${last.status} ${JSON.stringify(last.body)}`);
    if (last.body.status !== 'running') return last.body;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`tenant deletion ${id} still running after ${options.deadlineMs ?? 60_000} ms: ${JSON.stringify(last?.body)}`);
}

/** DELETE /tenants/:idOrSlug?confirm=<slug>, then the settled report (the 202's own answer is checked by the caller when it matters). */
export async function deleteTenantAndWait(t: TestApp, tenant: { slug: string }, query = ''): Promise<{ accepted: { status: number; body: any }; report: any }> {
  const accepted = await t.request('DELETE', `/tenants/${tenant.slug}?confirm=${tenant.slug}${query}`, { admin: true });
  if (accepted.status !== 202) throw new Error(`DELETE /tenants/${tenant.slug} -> ${accepted.status} ${JSON.stringify(accepted.body)}`);
  return { accepted, report: await settledDeletion(t, accepted.body.id) };
}
