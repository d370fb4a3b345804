// The receiving site of the fuzz targets: one peer with a fixed secret and a broad policy, so
// that fuzzed claims reach every check (schemas, roles, meta, pass_hash, return URLs).
use std::sync::OnceLock;
use usersync::Context;

pub const SECRET: &str = "usk1_AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA";

pub fn context() -> &'static Context {
    static CTX: OnceLock<Context> = OnceLock::new();
    CTX.get_or_init(|| {
        let config = format!(
            r#"{{"site_id":"b.test","url":"https://b.test","clock_skew":600,"peers":[
              {{"id":"a.test","url":"https://a.test","secrets":["{SECRET}"],
                "accept":{{"actions":["create","update","delete","password","meta","logout","login"],
                           "roles":["subscriber","administrator"],"meta":["billing_*"]}},
                "ip_allow":["127.0.0.0/8","::1"]}}]}}"#
        );
        Context::from_json(config.as_bytes()).expect("fuzz configuration")
    })
}
