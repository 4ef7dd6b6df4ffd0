/** Passwords of app_owner/app_user on the test server (a throwaway or developer cluster). */
export const TEST_ROLE_PASSWORDS = { owner: 'app-owner-test-password', app: 'app-user-test-password' };
export const TEST_ADMIN_KEY = 'test-admin-key-0123456789abcdefghijklmnop';
export const TEST_BASE_DOMAIN = 'example.test';
