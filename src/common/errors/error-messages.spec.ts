import { messageOf, withoutPasswords } from './error-messages';

describe(withoutPasswords.name, () => {
  it('masks the password of every URL in a message, and only that', () => {
    expect(withoutPasswords('cannot reach postgres://app_owner:s3cr%40t@db1:5432/app and postgresql://u:p@h/d')).toBe(
      'cannot reach postgres://app_owner:***@db1:5432/app and postgresql://u:***@h/d',
    );
    // Positive controls: nothing to mask is left as it is.
    for (const text of ['connect ECONNREFUSED 127.0.0.1:5999', 'postgres://app_owner@db1/app', 'password authentication failed for user "app_owner"', 'at 10:30 see a@b']) {
      expect(withoutPasswords(text)).toBe(text);
    }
  });
});

describe(messageOf.name, () => {
  it('lists the parts of an AggregateError (a refused connection to localhost), the message of any other error', () => {
    expect(messageOf(new AggregateError([new Error('connect ECONNREFUSED ::1:5999'), new Error('connect ECONNREFUSED 127.0.0.1:5999')], ''))).toBe(
      'connect ECONNREFUSED ::1:5999; connect ECONNREFUSED 127.0.0.1:5999',
    );
    expect(messageOf(new Error('boom'))).toBe('boom');
    expect(messageOf('plain')).toBe('plain');
  });
});
