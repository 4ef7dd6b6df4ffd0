/**
 * One line for an error: Node reports a refused connection to a name with
 * several addresses (localhost: ::1 and 127.0.0.1) as an AggregateError whose
 * own message is empty, so its parts are listed.
 */
export function messageOf(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) {
    return error.errors.map(messageOf).join('; ');
  }
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

/** scheme://user:password@ in a URL: what withoutPasswords masks. */
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*):[^@/?#\s]*@/gi;

/**
 * `text` with the password of every URL in it masked (postgres://app_owner:***@host/db): for messages
 * that go where secrets must not (command output, reports), whatever a driver chose to echo.
 */
export function withoutPasswords(text: string): string {
  return text.replace(URL_PASSWORD, '$1:***@');
}
