//! `usersync`: the command-line tool for site owners and scripts.
//!
//!     usersync secret                      print a new link secret (usk1_…)
//!     usersync check-secret                check the secret on standard input
//!     usersync seal AAD < plaintext        seal standard input (secrets from USERSYNC_SECRETS)
//!     usersync open AAD < envelope         open standard input (secrets from USERSYNC_SECRETS)
//!     usersync demo                        two sites exchange a user through one link
//!
//! Secrets come from the environment, never from arguments, so they stay out of `ps` and
//! shell history.

use std::io::{Read, Write};
use std::process::ExitCode;
use usersync::{Error, Keyring, LinkSecret};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("secret") => secret(),
        Some("check-secret") => check_secret(),
        Some("seal") if args.len() == 2 => seal(&args[1]),
        Some("open") if args.len() == 2 => open(&args[1]),
        Some("demo") => demo(),
        _ => {
            eprintln!("usage: usersync secret | check-secret | seal AAD | open AAD | demo");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "usersync: {} ({}, code {})",
                e.message(),
                e.name(),
                e.code()
            );
            ExitCode::FAILURE
        }
    }
}

fn secret() -> Result<(), Error> {
    println!("{}", LinkSecret::generate()?.to_text());
    Ok(())
}

fn stdin() -> Vec<u8> {
    let mut buf = Vec::new();
    std::io::stdin()
        .read_to_end(&mut buf)
        .expect("read standard input");
    buf
}

fn check_secret() -> Result<(), Error> {
    LinkSecret::parse(stdin().trim_ascii())?;
    println!("ok");
    Ok(())
}

fn keyring_from_env() -> Result<Keyring, Error> {
    let list = std::env::var("USERSYNC_SECRETS").unwrap_or_default();
    Keyring::parse(list.trim().as_bytes())
}

fn seal(aad: &str) -> Result<(), Error> {
    println!("{}", keyring_from_env()?.seal(aad.as_bytes(), &stdin())?);
    Ok(())
}

fn open(aad: &str) -> Result<(), Error> {
    let plaintext = keyring_from_env()?.open(aad.as_bytes(), stdin().trim_ascii())?;
    std::io::stdout()
        .write_all(&plaintext)
        .expect("write standard output");
    Ok(())
}

/// Acts out two sites that share one link: the shop seals a new user for the blog, the blog
/// opens it; a tampered copy, a copy for the other direction and a rotated secret follow.
fn demo() -> Result<(), Error> {
    let (shop, blog) = ("shop.example.com", "blog.example.com");
    let secret = LinkSecret::generate()?;
    println!("1. The site owner generates one secret for the link {shop} <-> {blog}");
    println!("   (usersync secret) and puts it in both sites' configuration.\n");
    let shop_ring = Keyring::new(std::slice::from_ref(&secret))?;
    let blog_ring = Keyring::new(std::slice::from_ref(&secret))?;

    let aad = format!("usersync/v1|action|{shop}|{blog}");
    let user = r#"{"v":1,"typ":"action","iss":"shop.example.com","aud":"blog.example.com","act":"create","data":{"login":"alice","email":"alice@example.com","pass_hash":"$wp$2y$10$Ez1mK5Y0o3lq0b3Q7cXcUeJpQ0X7nQm2dQ3e0Qy0m0h3hQ1bq2a1S"}}"#;
    let envelope = shop_ring.seal(aad.as_bytes(), user.as_bytes())?;
    println!("2. alice signs up on {shop}; the shop seals the event for the blog:");
    println!(
        "   {}...{} ({} chars)\n",
        &envelope[..32],
        &envelope[envelope.len() - 8..],
        envelope.len()
    );

    let opened = blog_ring.open(aad.as_bytes(), envelope.as_bytes())?;
    println!("3. {blog} opens it and would create the user:");
    println!("   {}\n", String::from_utf8_lossy(&opened));

    println!("4. What the blog refuses:");
    let mut tampered = envelope.clone().into_bytes();
    let mid = tampered.len() / 2;
    tampered[mid] = if tampered[mid] == b'A' { b'B' } else { b'A' };
    report(
        "   a copy with one character changed",
        blog_ring.open(aad.as_bytes(), &tampered),
    );
    let reverse = format!("usersync/v1|action|{blog}|{shop}");
    report(
        "   the same message replayed in the other direction",
        blog_ring.open(reverse.as_bytes(), envelope.as_bytes()),
    );
    let stranger = Keyring::new(&[LinkSecret::generate()?])?;
    report(
        "   a site holding another link's secret",
        stranger.open(aad.as_bytes(), envelope.as_bytes()),
    );

    let new_secret = LinkSecret::generate()?;
    let rotated_blog = Keyring::new(&[new_secret, secret])?;
    println!("\n5. The owner rotates the link: the blog now seals with a new secret and still opens the old one.");
    report(
        "   an old-secret message on the rotated blog",
        rotated_blog
            .open(aad.as_bytes(), envelope.as_bytes())
            .map(|_| ()),
    );
    Ok(())
}

fn report<T>(what: &str, result: Result<T, Error>) {
    match result {
        Ok(_) => println!("{what}: opened"),
        Err(e) => println!("{what}: refused ({})", e.name()),
    }
}
