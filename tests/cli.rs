//! The `tessera` command line, run as a real process.
#![cfg(feature = "ssr")]

use std::{
    io::Write,
    path::Path,
    process::{Command, Output, Stdio},
    time::Duration,
};

fn tessera(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    tessera_with(dir, args, stdin, &[])
}

/// [`tessera`] with more environment variables.
fn tessera_with(dir: &Path, args: &[&str], stdin: Option<&str>, vars: &[(&str, &str)]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("STORAGE_SQLITE_PATH", dir.join("tessera.db"))
        .env("TESSERA_LISTEN", "127.0.0.1:0")
        .envs(vars.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn every_command_has_help() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["migrate", "--help"],
        vec!["tenant", "create", "--help"],
        vec!["tenant", "move", "--help"],
        vec!["user", "create", "--help"],
        vec!["client", "create", "--help"],
        vec!["client", "initial-token", "--help"],
        vec!["client", "initial-token", "create", "--help"],
        vec!["client", "initial-token", "list", "--help"],
        vec!["client", "initial-token", "revoke", "--help"],
        vec!["tenant", "policy", "--help"],
        vec!["connection", "--help"],
        vec!["connection", "create", "--help"],
        vec!["connection", "list", "--help"],
        vec!["connection", "update", "--help"],
        vec!["connection", "delete", "--help"],
        vec!["keys", "list", "--help"],
        vec!["keys", "rotate", "--help"],
        vec!["backup", "--help"],
    ] {
        let out = tessera(dir.path(), &args, None);
        assert!(out.status.success(), "{args:?}");
        assert!(text(&out.stdout).contains("Usage:"), "{args:?}");
    }
    assert!(
        !dir.path().join("tessera.db").exists(),
        "help touches nothing"
    );
}

#[test]
fn provisioning_prints_the_secret_once_and_bad_input_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let first = tessera(dir.path(), &["migrate"], None);
    assert!(first.status.success(), "{}", text(&first.stderr));

    let bad = tessera(
        dir.path(),
        &[
            "client",
            "create",
            "--tenant",
            "default",
            "--client-id",
            "web",
            "--name",
            "Web",
            "--redirect-uri",
            "http://evil.example/cb",
        ],
        None,
    );
    assert!(!bad.status.success());
    let err = text(&bad.stderr);
    let last = err.lines().rfind(|l| !l.trim().is_empty()).unwrap();
    assert!(
        last.starts_with("error: ") && last.contains("https"),
        "{err}"
    );

    let good = tessera(
        dir.path(),
        &[
            "client",
            "create",
            "--tenant",
            "default",
            "--client-id",
            "web",
            "--name",
            "Web",
            "--redirect-uri",
            "https://app.example/cb",
            "--scope",
            "openid",
        ],
        None,
    );
    assert!(
        good.status.success(),
        "the failed attempt left nothing behind: {}",
        text(&good.stderr)
    );
    let out = text(&good.stdout);
    let secret = out
        .lines()
        .find_map(|l| l.strip_prefix("client_secret: "))
        .expect("secret printed");
    assert!(secret.len() >= 43);
    let again = tessera(
        dir.path(),
        &[
            "client",
            "create",
            "--tenant",
            "default",
            "--client-id",
            "web",
            "--name",
            "Web",
            "--redirect-uri",
            "https://app.example/cb",
        ],
        None,
    );
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("already exists"));

    let public = tessera(
        dir.path(),
        &[
            "client",
            "create",
            "--tenant",
            "default",
            "--client-id",
            "spa",
            "--name",
            "SPA",
            "--redirect-uri",
            "http://127.0.0.1:5173/cb",
            "--public",
        ],
        None,
    );
    assert!(public.status.success());
    assert!(
        !text(&public.stdout).contains("client_secret"),
        "public clients have no secret"
    );

    let user = tessera(
        dir.path(),
        &[
            "user",
            "create",
            "--tenant",
            "default",
            "--email",
            "Bob@Example.com",
            "--password-stdin",
        ],
        Some("a fine password\n"),
    );
    assert!(user.status.success(), "{}", text(&user.stderr));
    assert!(text(&user.stdout).contains("bob@example.com"));
    let weak = tessera(
        dir.path(),
        &[
            "user",
            "create",
            "--tenant",
            "default",
            "--email",
            "eve@example.com",
            "--password-stdin",
        ],
        Some("short\n"),
    );
    assert!(!weak.status.success());
    assert!(text(&weak.stderr).contains("at least 8 characters"));
    let missing_tenant = tessera(
        dir.path(),
        &[
            "user",
            "create",
            "--tenant",
            "nope",
            "--email",
            "eve@example.com",
        ],
        None,
    );
    assert!(!missing_tenant.status.success());
    assert!(text(&missing_tenant.stderr).contains("no tenant"));
    let bad_grant = tessera(
        dir.path(),
        &[
            "client",
            "create",
            "--tenant",
            "default",
            "--client-id",
            "x",
            "--name",
            "X",
            "--redirect-uri",
            "https://a.example/cb",
            "--grant",
            "implicit",
        ],
        None,
    );
    assert_eq!(bad_grant.status.code(), Some(2), "usage errors exit 2");
    let usage = text(&bad_grant.stderr);
    assert_eq!(usage.lines().count(), 1, "one line: {usage}");
    assert!(
        usage.starts_with("error: ") && usage.contains("--grant"),
        "{usage}"
    );

    let tenant = tessera(
        dir.path(),
        &["tenant", "create", "acme", "--name", "Acme Inc."],
        None,
    );
    assert!(tenant.status.success());
    assert!(text(&tenant.stdout).contains("/t/acme"));
    let bad_slug = tessera(
        dir.path(),
        &["tenant", "create", "Bad Slug", "--name", "x"],
        None,
    );
    assert!(!bad_slug.status.success());
}

#[test]
fn the_first_start_prints_how_to_sign_in_once() {
    let dir = tempfile::tempdir().unwrap();
    let first = tessera(dir.path(), &["migrate"], None);
    assert!(first.status.success());
    assert!(
        text(&first.stderr).contains("Back it up"),
        "warns to back up the generated key"
    );
    let out = tessera(
        dir.path(),
        &["tenant", "create", "first", "--name", "First"],
        None,
    );
    let err = text(&out.stderr);
    assert!(
        err.contains("password:") && err.contains("/t/default/login"),
        "{err}"
    );
    let second = tessera(
        dir.path(),
        &["tenant", "create", "second", "--name", "Second"],
        None,
    );
    assert!(
        !text(&second.stderr).contains("password:"),
        "shown only once"
    );
    assert!(dir.path().join("encryption.key").exists());
}

#[test]
fn invalid_configuration_names_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .arg("migrate")
        .env("STORAGE_SQLITE_PATH", dir.path().join("t.db"))
        .env("TESSERA_PUBLIC_URL", "not a url")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("TESSERA_PUBLIC_URL") && err.lines().count() == 1,
        "{err}"
    );
}

#[test]
fn a_second_server_on_the_same_database_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut server = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .arg("serve")
        .env("STORAGE_SQLITE_PATH", dir.path().join("tessera.db"))
        .env("TESSERA_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "first server did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let second = tessera(dir.path(), &["serve"], None);
    server.kill().unwrap();
    let _ = server.wait();
    assert!(!second.status.success());
    assert!(
        text(&second.stderr).contains("another Tessera server is already using"),
        "{}",
        text(&second.stderr)
    );
    let tool = tessera(
        dir.path(),
        &["tenant", "create", "beside", "--name", "Beside"],
        None,
    );
    assert!(tool.status.success(), "command-line tasks still work");
}

#[test]
fn backup_writes_a_consistent_copy_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let created = tessera(
        dir.path(),
        &[
            "user",
            "create",
            "--tenant",
            "default",
            "--email",
            "kept@example.com",
        ],
        None,
    );
    assert!(created.status.success(), "{}", text(&created.stderr));
    let copy = dir.path().join("copy.db");
    let out = tessera(dir.path(), &["backup", copy.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("encryption key"),
        "reminds of the key"
    );

    let from_copy = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args([
            "user",
            "create",
            "--tenant",
            "default",
            "--email",
            "kept@example.com",
        ])
        .env_clear()
        .env("STORAGE_SQLITE_PATH", &copy)
        .output()
        .unwrap();
    assert!(
        text(&from_copy.stderr).contains("already exists"),
        "the copy holds the user: {}",
        text(&from_copy.stderr)
    );

    let again = tessera(dir.path(), &["backup", copy.to_str().unwrap()], None);
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("already exists"));
}

#[test]
fn keys_are_listed_and_rotated_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let listed = tessera(dir.path(), &["keys", "list", "--tenant", "default"], None);
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    let out = text(&listed.stdout);
    assert_eq!(out.matches(" active ").count(), 1, "{out}");

    let rotated = tessera(
        dir.path(),
        &[
            "keys",
            "rotate",
            "--tenant",
            "default",
            "--activate-in",
            "600",
        ],
        None,
    );
    assert!(rotated.status.success(), "{}", text(&rotated.stderr));
    assert!(text(&rotated.stdout).contains("Published the new ES256 key"));
    let out = text(&tessera(dir.path(), &["keys", "list", "--tenant", "default"], None).stdout);
    assert_eq!(
        (
            out.matches(" active ").count(),
            out.matches(" next ").count()
        ),
        (1, 1),
        "{out}"
    );

    let twice = tessera(
        dir.path(),
        &[
            "keys",
            "rotate",
            "--tenant",
            "default",
            "--activate-in",
            "0",
        ],
        None,
    );
    assert!(!twice.status.success());
    assert!(text(&twice.stderr).contains("already under way"));
    for bad in [
        vec!["keys", "rotate", "--tenant", "default", "--alg", "HS256"],
        vec![
            "keys",
            "rotate",
            "--tenant",
            "default",
            "--activate-in",
            "-5",
        ],
        vec!["keys", "rotate", "--tenant", "nowhere"],
    ] {
        let out = tessera(dir.path(), &bad, None);
        assert!(!out.status.success(), "{bad:?}");
        assert_eq!(text(&out.stderr).lines().count(), 1, "{bad:?}: one line");
    }
}

/// Runs `sql` on the SQLite database at `path`, returning the first column of the first row.
fn sqlite(path: &Path, sql: &str) -> i64 {
    let url = format!("sqlite://{}", path.display());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        let mut last = 0;
        for statement in sql.split(';').filter(|s| !s.trim().is_empty()) {
            last = sqlx::query_scalar::<_, i64>(statement)
                .fetch_optional(&pool)
                .await
                .unwrap()
                .unwrap_or(0);
        }
        pool.close().await;
        last
    })
}

fn tenant_files(dir: &Path) -> Vec<std::path::PathBuf> {
    match std::fs::read_dir(dir.join("tenants")) {
        Ok(entries) => entries
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "db"))
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn a_tenant_of_its_own_is_created_migrated_and_moved_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let created = tessera(
        dir.path(),
        &[
            "tenant",
            "create",
            "acme",
            "--name",
            "Acme",
            "--placement",
            "dedicated",
        ],
        None,
    );
    assert!(created.status.success(), "{}", text(&created.stderr));
    assert!(text(&created.stdout).contains("in a database of its own"));
    let files = tenant_files(dir.path());
    assert_eq!(files.len(), 1, "one SQLite file for the tenant");
    let person = tessera(
        dir.path(),
        &[
            "user",
            "create",
            "--tenant",
            "acme",
            "--email",
            "pat@acme.test",
            "--password-stdin",
        ],
        Some("a long enough password 1\n"),
    );
    assert!(person.status.success(), "{}", text(&person.stderr));
    let people_of_acme = "SELECT count(*) FROM users JOIN tenants ON tenants.id = users.tenant_id WHERE tenants.slug = 'acme'";
    assert_eq!(sqlite(&files[0], people_of_acme), 1);
    assert_eq!(sqlite(&dir.path().join("tessera.db"), people_of_acme), 0);

    // The tenant's database falls behind: its last migration is undone.
    sqlite(
        &files[0],
        "ALTER TABLE tenants DROP COLUMN database; DELETE FROM _sqlx_migrations WHERE version = 10",
    );
    let migrated = tessera(dir.path(), &["migrate", "--all"], None);
    assert!(migrated.status.success(), "{}", text(&migrated.stderr));
    assert!(text(&migrated.stderr).contains("acme: its database is up to date"));
    assert!(text(&migrated.stdout).contains("1 tenant database(s)"));
    assert_eq!(
        sqlite(
            &files[0],
            "SELECT count(*) FROM pragma_table_info('tenants') WHERE name = 'database'"
        ),
        1,
        "migrated again"
    );

    let refused = tessera(
        dir.path(),
        &["tenant", "move", "acme", "--to", "elsewhere"],
        None,
    );
    assert!(!refused.status.success());
    assert!(text(&refused.stderr).contains("expected shared or dedicated"));
    let ghost = tessera(
        dir.path(),
        &["tenant", "move", "ghost", "--to", "shared"],
        None,
    );
    assert!(!ghost.status.success());

    let moved = tessera(
        dir.path(),
        &["tenant", "move", "acme", "--to", "shared"],
        None,
    );
    assert!(moved.status.success(), "{}", text(&moved.stderr));
    assert!(text(&moved.stdout).contains("Moved tenant acme to shared storage (people: 1"));
    assert!(text(&moved.stderr).contains("Suspended acme"));
    assert!(
        tenant_files(dir.path()).is_empty(),
        "its database is dropped"
    );
    assert_eq!(sqlite(&dir.path().join("tessera.db"), people_of_acme), 1);
    let again = tessera(
        dir.path(),
        &["tenant", "move", "acme", "--to", "shared"],
        None,
    );
    assert!(again.status.success());
    assert!(text(&again.stdout).contains("is shared already"));
}

#[test]
fn initial_tokens_are_made_listed_and_revoked_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let empty = tessera(
        dir.path(),
        &["client", "initial-token", "list", "--tenant", "default"],
        None,
    );
    assert!(empty.status.success(), "{}", text(&empty.stderr));
    assert!(text(&empty.stdout).contains("no initial access tokens"));

    let made = tessera(
        dir.path(),
        &[
            "client",
            "initial-token",
            "create",
            "--tenant",
            "default",
            "--name",
            "Partner onboarding",
            "--uses",
            "5",
            "--days",
            "30",
        ],
        None,
    );
    assert!(made.status.success(), "{}", text(&made.stderr));
    let out = text(&made.stdout);
    let token = out
        .lines()
        .find_map(|l| l.strip_prefix("token: "))
        .expect("token printed");
    assert!(token.starts_with("tsi_") && token.len() > 40, "{token}");
    let id = out
        .lines()
        .find_map(|l| l.strip_prefix("id: "))
        .expect("id printed")
        .to_owned();
    assert!(out.contains("shown only this once"), "{out}");
    assert!(out.contains("Authorization: Bearer <token>") && out.contains("/t/default/register"));

    let listed = text(
        &tessera(
            dir.path(),
            &["client", "initial-token", "list", "--tenant", "default"],
            None,
        )
        .stdout,
    );
    let line = listed.lines().find(|l| l.contains(&id)).expect("listed");
    assert!(line.contains("Active") && line.contains("0 of 5"), "{line}");
    assert!(line.contains("Partner onboarding") && line.contains(&token[..10]));
    assert!(!listed.contains(&token[10..]), "never the token itself");

    for bad in [
        vec!["--uses", "0", "--days", "7"],
        vec!["--uses", "1001", "--days", "7"],
        vec!["--uses", "5", "--days", "2"],
        vec!["--uses", "many", "--days", "7"],
    ] {
        let mut args = vec![
            "client",
            "initial-token",
            "create",
            "--tenant",
            "default",
            "--name",
            "Bad",
        ];
        args.extend(bad.iter().copied());
        let out = tessera(dir.path(), &args, None);
        assert!(!out.status.success(), "{bad:?}");
        assert_eq!(text(&out.stderr).lines().count(), 1, "{bad:?}: one line");
    }

    let revoked = tessera(
        dir.path(),
        &[
            "client",
            "initial-token",
            "revoke",
            "--tenant",
            "default",
            &id,
        ],
        None,
    );
    assert!(revoked.status.success(), "{}", text(&revoked.stderr));
    assert!(text(&revoked.stdout).contains("Revoked"));
    let listed = text(
        &tessera(
            dir.path(),
            &["client", "initial-token", "list", "--tenant", "default"],
            None,
        )
        .stdout,
    );
    let line = listed.lines().find(|l| l.contains(&id)).expect("listed");
    assert!(line.contains("Revoked"), "{line}");
    assert_eq!(
        listed.lines().count(),
        2,
        "the bad ones made nothing: {listed}"
    );
    for bad in [id.as_str(), "not-an-id"] {
        let again = tessera(
            dir.path(),
            &[
                "client",
                "initial-token",
                "revoke",
                "--tenant",
                "default",
                bad,
            ],
            None,
        );
        assert!(!again.status.success(), "{bad}");
        assert_eq!(text(&again.stderr).lines().count(), 1, "{bad}: one line");
    }

    // Open registration is a policy of the tenant.
    let on = tessera(
        dir.path(),
        &[
            "tenant",
            "policy",
            "--tenant",
            "default",
            "--open-registration",
            "on",
        ],
        None,
    );
    assert!(on.status.success(), "{}", text(&on.stderr));
    assert!(
        text(&on.stdout).contains("open registration of applications on"),
        "{}",
        text(&on.stdout)
    );
    let shown = tessera(
        dir.path(),
        &["tenant", "policy", "--tenant", "default"],
        None,
    );
    assert!(text(&shown.stdout).contains("open registration of applications on"));
    let off = tessera(
        dir.path(),
        &[
            "tenant",
            "policy",
            "--tenant",
            "default",
            "--open-registration",
            "off",
            "--require-mfa",
            "on",
        ],
        None,
    );
    assert!(off.status.success(), "{}", text(&off.stderr));
    let out = text(&off.stdout);
    assert!(
        out.contains("open registration of applications off") && out.contains("required"),
        "{out}"
    );
}

#[test]
fn connections_are_added_listed_changed_and_deleted_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| tessera(dir.path(), args, None);
    let list = || text(&run(&["connection", "list", "--tenant", "default"]).stdout);
    assert!(list().contains("no connections"), "{}", list());
    let secret = "GOCSPX-from-the-environment";
    let google = [
        "connection",
        "create",
        "--tenant",
        "default",
        "--preset",
        "google",
        "--slug",
        "google",
        "--name",
        "Google",
        "--client-id",
        "123.apps.googleusercontent.com",
        "--domains",
        "example.com",
        "--provisioning",
    ];

    // Refused in plain words on one line, naming the flag; nothing is added.
    let no_secret = run(&google);
    assert!(!no_secret.status.success());
    let said = text(&no_secret.stderr);
    assert_eq!(said.lines().count(), 1, "{said}");
    assert!(said.contains("--client-secret"), "{said}");
    let shared = run(&[
        "connection",
        "create",
        "--tenant",
        "default",
        "--preset",
        "microsoft",
        "--slug",
        "microsoft",
        "--name",
        "Microsoft",
        "--directory",
        "common",
        "--client-id",
        "c",
        "--client-secret",
        "s",
    ]);
    let said = text(&shared.stderr);
    assert!(
        !shared.status.success() && said.lines().count() == 1,
        "{said}"
    );
    assert!(
        said.contains("--directory") && said.contains("common"),
        "{said}"
    );
    let unknown = run(&[
        "connection",
        "create",
        "--tenant",
        "default",
        "--preset",
        "okta",
    ]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(text(&unknown.stderr).contains("google, microsoft, github, oidc, oauth2 or saml"));
    assert!(list().contains("no connections"));

    // The secret from the environment, kept out of the shell's history.
    let made = tessera_with(
        dir.path(),
        &google,
        None,
        &[("TESSERA_CONNECTION_CLIENT_SECRET", secret)],
    );
    assert!(made.status.success(), "{}", text(&made.stderr));
    let out = text(&made.stdout);
    assert!(out.contains("Added the connection google"), "{out}");
    assert!(
        out.contains("callback URL: http://localhost:3000/t/default/upstream/google/callback"),
        "{out}"
    );
    let public = run(&[
        "connection",
        "create",
        "--tenant",
        "default",
        "--preset",
        "oidc",
        "--slug",
        "corp",
        "--name",
        "Corp",
        "--issuer",
        "https://idp.corp.example",
        "--client-id",
        "tessera",
        "--disabled",
    ]);
    assert!(public.status.success(), "{}", text(&public.stderr));

    let listed = list();
    let google_line = listed
        .lines()
        .find(|l| l.starts_with("google "))
        .expect("listed");
    assert!(
        google_line.contains("Google")
            && google_line.contains("enabled")
            && google_line.contains("example.com"),
        "{google_line}"
    );
    let corp = listed
        .lines()
        .find(|l| l.starts_with("corp "))
        .expect("listed");
    assert!(
        corp.contains("disabled") && corp.contains("OpenID Connect"),
        "{corp}"
    );
    assert!(
        listed.contains("/t/default/upstream/{slug}/callback"),
        "{listed}"
    );

    let changed = run(&[
        "connection",
        "update",
        "--tenant",
        "default",
        "corp",
        "--name",
        "Corp staff",
        "--enabled",
        "on",
    ]);
    assert!(changed.status.success(), "{}", text(&changed.stderr));
    let corp = list();
    let corp = corp
        .lines()
        .find(|l| l.starts_with("corp "))
        .expect("listed");
    assert!(
        corp.contains("Corp staff") && corp.contains("enabled"),
        "{corp}"
    );
    let refused = run(&[
        "connection",
        "update",
        "--tenant",
        "default",
        "corp",
        "--issuer",
        "ftp://x",
    ]);
    let said = text(&refused.stderr);
    assert!(
        !refused.status.success() && said.contains("--issuer"),
        "{said}"
    );

    let deleted = run(&["connection", "delete", "--tenant", "default", "google"]);
    assert!(deleted.status.success(), "{}", text(&deleted.stderr));
    assert!(text(&deleted.stdout).contains("no way in left"));
    assert!(!list().contains("google "));
    for args in [
        ["connection", "delete", "--tenant", "default", "google"],
        ["connection", "update", "--tenant", "default", "nobody"],
    ] {
        let again = run(&args);
        let said = text(&again.stderr);
        assert!(!again.status.success(), "{args:?}");
        assert_eq!(said.lines().count(), 1, "{said}");
        assert!(said.contains("no connection"), "{said}");
    }
}

#[test]
fn a_saml_connection_is_added_from_its_identity_providers_metadata_file() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| tessera(dir.path(), args, None);
    let metadata = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/saml-idp-metadata.xml"
    );
    let create = |file: &str| {
        run(&[
            "connection",
            "create",
            "--tenant",
            "default",
            "--preset",
            "saml",
            "--slug",
            "corp",
            "--name",
            "Corp SSO",
            "--metadata",
            file,
            "--domains",
            "corp.example",
        ])
    };

    // The first run makes the tenant and says so.
    assert!(run(&["connection", "list", "--tenant", "default"])
        .status
        .success());
    // A file that is not there, or metadata without a signing certificate: refused in one
    // line naming the flag, nothing added.
    let missing = create("/nonexistent/idp.xml");
    let said = text(&missing.stderr);
    assert!(
        !missing.status.success() && said.lines().count() == 1,
        "{said}"
    );
    assert!(said.contains("--metadata: cannot read"), "{said}");
    let keyless = dir.path().join("keyless.xml");
    let full = std::fs::read_to_string(metadata).unwrap();
    let start = full.find("<md:KeyDescriptor").unwrap();
    let end = full.find("</md:KeyDescriptor>").unwrap() + "</md:KeyDescriptor>".len();
    std::fs::write(&keyless, format!("{}{}", &full[..start], &full[end..])).unwrap();
    let refused = create(keyless.to_str().unwrap());
    let said = text(&refused.stderr);
    assert!(!refused.status.success(), "{said}");
    assert!(
        said.contains("--metadata: ") && said.contains("no signing certificate"),
        "{said}"
    );

    // From the metadata: what to register at the identity provider is printed.
    let made = create(metadata);
    assert!(made.status.success(), "{}", text(&made.stderr));
    let out = text(&made.stdout);
    let sp = "http://localhost:3000/t/default/upstream/corp";
    for printed in [
        format!("metadata URL: {sp}/metadata"),
        format!("entity id: {sp}/metadata"),
        format!("assertion consumer service (HTTP-POST): {sp}/acs"),
    ] {
        assert!(out.contains(&printed), "{printed}: {out}");
    }
    let listed = text(&run(&["connection", "list", "--tenant", "default"]).stdout);
    let line = listed
        .lines()
        .find(|l| l.starts_with("corp "))
        .expect("listed");
    assert!(line.contains("SAML 2.0"), "{line}");

    // A change without --metadata keeps the provider; an attribute name may be a URI.
    let renamed = run(&[
        "connection",
        "update",
        "--tenant",
        "default",
        "corp",
        "--name",
        "Corp directory",
        "--email-claim",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    ]);
    assert!(renamed.status.success(), "{}", text(&renamed.stderr));
    let listed = text(&run(&["connection", "list", "--tenant", "default"]).stdout);
    assert!(listed.contains("Corp directory"), "{listed}");
}
