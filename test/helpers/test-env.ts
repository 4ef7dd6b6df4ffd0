/** Passwords of app_owner/app_user on the test server (a throwaway or developer cluster). */
export const TEST_ROLE_PASSWORDS = { owner: 'app-owner-test-password', app: 'app-user-test-password' };
export const TEST_ADMIN_KEY = 'test-admin-key-0123456789abcdefghijklmnop';
export const TEST_BASE_DOMAIN = 'example.test';
/** HS256 key the test apps sign access tokens with (tests forge tokens with it to attack the verifier). */
export const TEST_JWT_SECRET = 'test-jwt-secret-0123456789abcdefghijklmnopqrstuvwxyz';
/** Password of the owner createTenant() makes for each tenant. */
export const TEST_OWNER_PASSWORD = 'owner-password-for-tests';
