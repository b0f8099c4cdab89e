/*
 * Unit tests for src/app/app_password (bcrypt via libxcrypt).
 *
 * The module is compiled into this test by #include (src/app is not part of libsioc.a).
 * Needs -lcrypt at link time. The reference hashes were made at test-writing time with
 * Debian's python3-bcrypt 3.2.2 (`bcrypt.hashpw(pw, bcrypt.gensalt(...))`), the library
 * Open WebUI hashes with.
 */
#include <criterion/criterion.h>
#include <string.h>

/* src/app is built only into build/sioc; include the module under test. */
#include "../../../src/app/app_password.c"

static bool check(const char *pw, const char *hash)
{
    return app_password_verify(pw, strlen(pw), hash);
}

Test(app_password, verifies_python_bcrypt_hashes, .timeout = 30)
{
    /* bcrypt.hashpw(b"correct horse battery staple", bcrypt.gensalt(12)) */
    const char *h12 = "$2b$12$k/FEBWeZ/LKFIB/ekNvQPuN2CcTDydiQf.rRfwE5Ui1O6si.IxT.6";
    cr_assert(check("correct horse battery staple", h12));
    cr_assert_not(check("correct horse battery stapl", h12));
    cr_assert_not(check("Correct horse battery staple", h12));
    /* bcrypt.hashpw("pässwörd-☃".encode(), bcrypt.gensalt(10, prefix=b"2a")) */
    const char *h2a = "$2a$10$bsJ5MQ.sJLxMnYy6.cUK/eHVWU/FttpRNMDqhjrR7cbT4Q9NzD2Gy";
    cr_assert(check("p\xc3\xa4ssw\xc3\xb6rd-\xe2\x98\x83", h2a));
    cr_assert_not(check("passwoerd-", h2a));
    /* b"x" * 72, cost 4: exactly bcrypt's limit */
    const char *h72 = "$2b$04$LwRwKB8I5/7ZBXBo6xCrqOjmm2g4Ksj6zemmz9RIyNtLmsrn68tVa";
    char x72[73];
    memset(x72, 'x', 72);
    x72[72] = '\0';
    cr_assert(check(x72, h72));
    cr_assert_not(app_password_verify(x72, 71, h72));
    /* b"" */
    cr_assert(check("", "$2b$04$oXDOV6r7kRX2CHz4PEYjZOxOWFuydn3gkX2NgSIQkiYyEKPDWYoU."));
    cr_assert_not(check("x", "$2b$04$oXDOV6r7kRX2CHz4PEYjZOxOWFuydn3gkX2NgSIQkiYyEKPDWYoU."));
    /* $2y$ (PHP's name for the same algorithm) verifies with libxcrypt */
    cr_assert(check("", "$2y$04$oXDOV6r7kRX2CHz4PEYjZOxOWFuydn3gkX2NgSIQkiYyEKPDWYoU."));
}

Test(app_password, hash_round_trips_in_open_webui_format, .timeout = 30)
{
    char h[APP_PASSWORD_HASH_SIZE];
    cr_assert_eq(app_password_hash("s3cret", 6, 4, h, sizeof h), 0);
    cr_assert_eq(strlen(h), 60);
    cr_assert_eq(strncmp(h, "$2b$04$", 7), 0, "%s", h);
    cr_assert(check("s3cret", h));
    cr_assert_not(check("s3cre", h));
    char h2[APP_PASSWORD_HASH_SIZE];
    cr_assert_eq(app_password_hash("s3cret", 6, 4, h2, sizeof h2), 0);
    cr_assert_str_neq(h, h2, "every hash gets a fresh salt");
    /* default cost is Python's default, 12 */
    cr_assert_eq(app_password_hash("pw", 2, 0, h, sizeof h), 0);
    cr_assert_eq(strncmp(h, "$2b$12$", 7), 0, "%s", h);
}

Test(app_password, refuses_what_bcrypt_cannot_store, .timeout = 30)
{
    char h[APP_PASSWORD_HASH_SIZE];
    char x73[74];
    memset(x73, 'x', 73);
    x73[73] = '\0';
    cr_assert_eq(app_password_hash(x73, 73, 4, h, sizeof h), -1, "over 72 bytes");
    /* a 73-byte password must not verify against the hash of its first 72 bytes */
    cr_assert_not(check(x73, "$2b$04$LwRwKB8I5/7ZBXBo6xCrqOjmm2g4Ksj6zemmz9RIyNtLmsrn68tVa"));
    cr_assert_eq(app_password_hash("a\0b", 3, 4, h, sizeof h), -1, "NUL byte");
    cr_assert_eq(app_password_hash("ab", 2, 3, h, sizeof h), -1, "cost too low");
    cr_assert_eq(app_password_hash("ab", 2, 32, h, sizeof h), -1, "cost too high");
    cr_assert_eq(app_password_hash("ab", 2, 4, h, 60), -1, "buffer too small");
    /* malformed or foreign hashes never verify */
    static const char *bad[] = {
        "",
        "plaintext",
        "$1$abcdefgh$abcdefghijklmnopqrstuv",
        "$2b$04$oXDOV6r7kRX2CHz4PEYjZOxOWFuydn3gkX2NgSIQkiYyEKPDWYoU",
        "$2x$04$oXDOV6r7kRX2CHz4PEYjZOxOWFuydn3gkX2NgSIQkiYyEKPDWYoU.",
        "$2b$4$$oXDOV6r7kRX2CHz4PEYjZOxOWFuydn3gkX2NgSIQkiYyEKPDWYoU.",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_not(check("", bad[i]), "%s", bad[i]);
    cr_assert_not(app_password_verify("", 0, NULL));
}
