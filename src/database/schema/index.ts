export * from './roles';
export * from './tenants';
export * from './users';
export * from './documents';
export * from './comments';
export * from './memberships';
export * from './api-keys';
export * from './attachments';
