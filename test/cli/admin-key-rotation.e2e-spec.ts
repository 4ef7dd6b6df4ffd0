import { startTestApp, TestApp } from '../helpers/test-app';
import { TEST_ADMIN_KEY } from '../helpers/test-env';

const NEW_KEY = 'adm_new-key-0123456789abcdefghijklmnopqrstuvwxyz';
const OTHER_KEY = 'adm_unrelated-0123456789abcdefghijklmnopqrstuvwxyz';

/**
 * The overlap window of an admin key rotation (README "Ops CLI"): with
 * ADMIN_API_KEY_PREVIOUS set, the old key and the new one both pass on a
 * platform-admin route; any other key does not; once the previous key is
 * unset, the old key is refused.
 */
describe('platform admin key rotation', () => {
  const status = async (t: TestApp, key: string) => (await t.request('GET', '/tenants', { headers: { authorization: `Bearer ${key}` } })).status;

  it('accepts the new and the previous key during the overlap, nothing else', async () => {
    const t = await startTestApp({ ADMIN_API_KEY: NEW_KEY, ADMIN_API_KEY_PREVIOUS: TEST_ADMIN_KEY });
    try {
      expect(await status(t, NEW_KEY)).toBe(200);
      expect(await status(t, TEST_ADMIN_KEY)).toBe(200);
      expect(await status(t, OTHER_KEY)).toBe(401);
    } finally {
      await t.close();
    }
  });

  it('refuses the old key once ADMIN_API_KEY_PREVIOUS is unset (positive control: the new key)', async () => {
    const t = await startTestApp({ ADMIN_API_KEY: NEW_KEY });
    try {
      expect(await status(t, NEW_KEY)).toBe(200);
      expect(await status(t, TEST_ADMIN_KEY)).toBe(401);
    } finally {
      await t.close();
    }
  });
});
