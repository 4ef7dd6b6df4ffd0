import { z } from 'zod';
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from './password-hasher';

/** The attributes of a global account, as members, sign-in and tenant creation accept them. */
export const emailField = z
  .string()
  .trim()
  .max(254)
  .pipe(z.email({ message: 'must be an email address' }))
  .transform((email) => email.toLowerCase());
export const passwordField = z.string().min(MIN_PASSWORD_LENGTH).max(MAX_PASSWORD_LENGTH);
export const personNameField = z.string().trim().max(200);

/** A global account as responses show it (never its password hash). */
export const userProfileView = z.object({ id: z.uuid(), email: z.string(), name: z.string() }).meta({ id: 'UserProfile' });
