import { PasswordHasher } from './password-hasher';

describe(PasswordHasher.name, () => {
  const sut = new PasswordHasher();
  beforeAll(() => sut.onModuleInit());

  it('hashes with argon2id at the documented cost, salted, and verifies', async () => {
    const hash = await sut.hash('correct horse battery');
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(hash).not.toContain('correct horse battery');
    expect(await sut.hash('correct horse battery')).not.toBe(hash);
    expect(await sut.verify(hash, 'correct horse battery')).toBe(true);
    expect(await sut.verify(hash, 'correct horse batterY')).toBe(false);
  });

  it('answers false, without throwing, when there is no hash or it cannot be parsed', async () => {
    await expect(sut.verify(null, 'anything')).resolves.toBe(false);
    await expect(sut.verify(undefined, 'anything')).resolves.toBe(false);
    await expect(sut.verify('not-a-phc-string', 'anything')).resolves.toBe(false);
  });
});
