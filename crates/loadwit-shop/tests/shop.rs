//! End-to-end tests: a spawned shop, spoken to over raw HTTP/1.1.

use std::error::Error;
use std::time::{Duration, Instant};

use loadwit_shop::{Route, RouteErrorRate, RouteLatency, RunningShop, ShopConfig};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

type TestResult = Result<(), Box<dyn Error>>;

/// A response: status and body parsed as JSON.
#[derive(Debug)]
struct Reply {
    status: u16,
    body: Value,
}

/// Sends one request on a fresh connection and reads the reply to EOF.
async fn send(
    shop: &RunningShop,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Result<Reply, Box<dyn Error>> {
    let authorization = token.map(|token| format!("Bearer {token}"));
    let headers: Vec<(&str, &str)> = authorization
        .iter()
        .map(|value| ("Authorization", value.as_str()))
        .collect();
    send_with(shop, method, path, &headers, body).await
}

/// Sends one request with `headers` on a fresh connection and reads the
/// reply to EOF.
async fn send_with(
    shop: &RunningShop,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Result<Reply, Box<dyn Error>> {
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n");
    for (name, value) in headers {
        request += &format!("{name}: {value}\r\n");
    }
    let body = body.unwrap_or("");
    request += &format!("Content-Length: {}\r\n\r\n{body}", body.len());

    let mut stream = TcpStream::connect(shop.addr).await?;
    stream.write_all(request.as_bytes()).await?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await?;

    let (head, body) = raw.split_once("\r\n\r\n").ok_or("no header end")?;
    let status = head.split(' ').nth(1).ok_or("no status")?.parse()?;
    let body = serde_json::from_str(body)?;
    Ok(Reply { status, body })
}

async fn get(shop: &RunningShop, path: &str) -> Result<Reply, Box<dyn Error>> {
    send(shop, "GET", path, None, None).await
}

async fn login(shop: &RunningShop, user: &str, password: &str) -> Result<Reply, Box<dyn Error>> {
    let body = json!({ "username": user, "password": password }).to_string();
    send(shop, "POST", "/api/auth/login", None, Some(&body)).await
}

async fn token(shop: &RunningShop, user: &str, password: &str) -> Result<String, Box<dyn Error>> {
    let reply = login(shop, user, password).await?;
    Ok(reply.body["token"].as_str().ok_or("no token")?.to_owned())
}

async fn shop() -> Result<RunningShop, Box<dyn Error>> {
    Ok(loadwit_shop::spawn(ShopConfig::default()).await?)
}

#[tokio::test]
async fn health_is_ok() -> TestResult {
    let shop = shop().await?;
    let reply = get(&shop, "/health").await?;
    assert_eq!((reply.status, reply.body), (200, json!({ "status": "ok" })));
    assert!(shop.base_url().starts_with("http://127.0.0.1:"));
    Ok(())
}

#[tokio::test]
async fn seed_users_log_in() -> TestResult {
    let shop = shop().await?;
    let reply = login(&shop, "demo", "demo").await?;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["user"]["username"], "demo");
    assert!(reply.body["token"].as_str().is_some_and(|t| !t.is_empty()));

    let reply = login(&shop, "user100", "password").await?;
    assert_eq!(reply.status, 200);
    Ok(())
}

#[tokio::test]
async fn wrong_password_is_401() -> TestResult {
    let shop = shop().await?;
    assert_eq!(login(&shop, "demo", "nope").await?.status, 401);
    assert_eq!(login(&shop, "user101", "password").await?.status, 401);
    Ok(())
}

#[tokio::test]
async fn malformed_login_body_is_400() -> TestResult {
    let shop = shop().await?;
    for body in ["{", r#"{"username":"demo"}"#, "[]"] {
        let reply = send(&shop, "POST", "/api/auth/login", None, Some(body)).await?;
        assert_eq!(reply.status, 400, "{body}");
        assert!(reply.body["error"].is_string());
    }
    Ok(())
}

#[tokio::test]
async fn me_with_token_is_the_user() -> TestResult {
    let shop = shop().await?;
    let token = token(&shop, "user7", "password").await?;
    let reply = send(&shop, "GET", "/api/auth/me", Some(&token), None).await?;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["username"], "user7");
    Ok(())
}

#[tokio::test]
async fn me_without_token_is_401() -> TestResult {
    let shop = shop().await?;
    assert_eq!(get(&shop, "/api/auth/me").await?.status, 401);
    let forged = send(&shop, "GET", "/api/auth/me", Some("tok-demo-0"), None).await?;
    assert_eq!(forged.status, 401);
    Ok(())
}

#[tokio::test]
async fn products_honour_limit_default_and_max() -> TestResult {
    let shop = shop().await?;
    let count = |reply: &Reply| reply.body["products"].as_array().map(Vec::len);
    assert_eq!(count(&get(&shop, "/api/catalog/products").await?), Some(20));
    assert_eq!(
        count(&get(&shop, "/api/catalog/products?limit=5").await?),
        Some(5)
    );
    assert_eq!(
        count(&get(&shop, "/api/catalog/products?limit=500").await?),
        Some(100)
    );
    assert_eq!(
        get(&shop, "/api/catalog/products?limit=x").await?.status,
        400
    );
    Ok(())
}

#[tokio::test]
async fn product_by_slug_matches_the_list() -> TestResult {
    let shop = shop().await?;
    let list = get(&shop, "/api/catalog/products?limit=3").await?;
    let first = &list.body["products"][2];
    let slug = first["slug"].as_str().ok_or("no slug")?;
    let reply = get(&shop, &format!("/api/catalog/products/{slug}")).await?;
    assert_eq!((reply.status, &reply.body), (200, first));
    Ok(())
}

#[tokio::test]
async fn unknown_slug_is_404() -> TestResult {
    let shop = shop().await?;
    let reply = get(&shop, "/api/catalog/products/no-such-thing").await?;
    assert_eq!(reply.status, 404);
    assert!(reply.body["error"].is_string());
    Ok(())
}

#[tokio::test]
async fn categories_list_eight() -> TestResult {
    let shop = shop().await?;
    let reply = get(&shop, "/api/catalog/categories").await?;
    assert_eq!(reply.body["categories"].as_array().map(Vec::len), Some(8));
    Ok(())
}

#[tokio::test]
async fn search_is_case_insensitive_and_counts() -> TestResult {
    let shop = shop().await?;
    let reply = get(&shop, "/api/search?q=LAMP").await?;
    assert_eq!(reply.status, 200);
    let products = reply.body["products"].as_array().ok_or("no products")?;
    assert_eq!(reply.body["count"], products.len());
    assert!(!products.is_empty());
    assert!(
        products
            .iter()
            .all(|p| p["name"].as_str().unwrap().contains("Lamp"))
    );
    Ok(())
}

#[tokio::test]
async fn search_without_term_is_400() -> TestResult {
    let shop = shop().await?;
    assert_eq!(get(&shop, "/api/search").await?.status, 400);
    assert_eq!(get(&shop, "/api/search?q=").await?.status, 400);
    Ok(())
}

#[tokio::test]
async fn placed_orders_are_listed_newest_first() -> TestResult {
    let shop = shop().await?;
    let token = token(&shop, "demo", "demo").await?;
    let first = r#"{"items":[{"slug":"classic-novel","quantity":2}]}"#;
    let second = r#"{"items":[{"slug":"compact-kettle","quantity":1}]}"#;
    for body in [first, second] {
        let reply = send(&shop, "POST", "/api/orders", Some(&token), Some(body)).await?;
        assert_eq!(reply.status, 201);
    }

    let reply = send(&shop, "GET", "/api/orders", Some(&token), None).await?;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["count"], 2);
    assert_eq!(
        reply.body["orders"][0]["items"][0]["slug"],
        "compact-kettle"
    );
    let line = &reply.body["orders"][1]["items"][0];
    assert_eq!(
        line["line_total_cents"],
        line["unit_price_cents"].as_u64().unwrap() * 2
    );
    Ok(())
}

#[tokio::test]
async fn orders_are_per_user() -> TestResult {
    let shop = shop().await?;
    let demo = token(&shop, "demo", "demo").await?;
    let other = token(&shop, "user1", "password").await?;
    let body = r#"{"items":[{"slug":"classic-novel"}]}"#;
    send(&shop, "POST", "/api/orders", Some(&demo), Some(body)).await?;
    let reply = send(&shop, "GET", "/api/orders", Some(&other), None).await?;
    assert_eq!(reply.body["count"], 0);
    Ok(())
}

#[tokio::test]
async fn bad_orders_are_400() -> TestResult {
    let shop = shop().await?;
    let token = token(&shop, "demo", "demo").await?;
    let bodies = [
        r#"{"items":[]}"#,
        r#"{"items":[{"slug":"nope","quantity":1}]}"#,
        "{",
    ];
    for body in bodies {
        let reply = send(&shop, "POST", "/api/orders", Some(&token), Some(body)).await?;
        assert_eq!(reply.status, 400, "{body}");
    }
    Ok(())
}

#[tokio::test]
async fn orders_without_token_are_401() -> TestResult {
    let shop = shop().await?;
    assert_eq!(get(&shop, "/api/orders").await?.status, 401);
    let body = r#"{"items":[{"slug":"classic-novel"}]}"#;
    let reply = send(&shop, "POST", "/api/orders", None, Some(body)).await?;
    assert_eq!(reply.status, 401);
    Ok(())
}

#[tokio::test]
async fn unknown_path_is_404_json() -> TestResult {
    let shop = shop().await?;
    let reply = get(&shop, "/api/nope").await?;
    assert_eq!(reply.status, 404);
    assert!(reply.body["error"].is_string());
    assert_eq!(
        send(&shop, "DELETE", "/health", None, None).await?.status,
        405
    );
    Ok(())
}

#[tokio::test]
async fn latency_knob_delays_only_its_route() -> TestResult {
    let delay = Duration::from_millis(120);
    let config = ShopConfig {
        latency: vec![RouteLatency::new(Route::Health, delay)],
        ..ShopConfig::default()
    };
    let shop = loadwit_shop::spawn(config).await?;

    let started = Instant::now();
    assert_eq!(get(&shop, "/health").await?.status, 200);
    assert!(started.elapsed() >= delay, "{:?}", started.elapsed());

    let started = Instant::now();
    get(&shop, "/api/catalog/categories").await?;
    assert!(started.elapsed() < delay, "{:?}", started.elapsed());
    Ok(())
}

#[tokio::test]
async fn error_rate_one_fails_every_request() -> TestResult {
    let config = ShopConfig {
        error_rate: vec!["/api/search=1".parse::<RouteErrorRate>()?],
        ..ShopConfig::default()
    };
    let shop = loadwit_shop::spawn(config).await?;
    for _ in 0..5 {
        assert_eq!(get(&shop, "/api/search?q=kite").await?.status, 500);
    }
    assert_eq!(get(&shop, "/health").await?.status, 200);
    assert_eq!(shop.stats().injected_errors(), 5);
    Ok(())
}

#[tokio::test]
async fn stats_count_requests_per_route() -> TestResult {
    let shop = shop().await?;
    let token = token(&shop, "demo", "demo").await?;
    for _ in 0..3 {
        send(&shop, "GET", "/api/auth/me", Some(&token), None).await?;
    }
    get(&shop, "/api/catalog/products/classic-novel").await?;
    get(&shop, "/api/catalog/products/unknown").await?;
    get(&shop, "/nowhere").await?;

    let stats = shop.stats();
    assert_eq!(stats.count(Route::Login), 1);
    assert_eq!(stats.count(Route::Me), 3);
    assert_eq!(stats.count_pattern("GET /api/auth/me"), Some(3));
    assert_eq!(
        stats.count_pattern("GET /api/catalog/products/{slug}"),
        Some(2)
    );
    assert_eq!(stats.count_pattern("GET /nowhere"), None);
    assert_eq!(stats.unmatched(), 1);
    assert_eq!(stats.total(), 7);
    Ok(())
}

#[tokio::test]
async fn shutdown_stops_accepting() -> TestResult {
    let shop = shop().await?;
    let addr = shop.addr;
    get(&shop, "/health").await?;
    tokio::time::timeout(Duration::from_secs(5), shop.shutdown()).await??;
    assert!(TcpStream::connect(addr).await.is_err());
    Ok(())
}

#[tokio::test]
async fn trace_log_keeps_the_last_trace_contexts_uncounted() -> TestResult {
    let config = ShopConfig {
        trace_log: 2,
        ..ShopConfig::default()
    };
    let shop = loadwit_shop::spawn(config).await?;
    let traceparent = |n: u8| format!("00-{:032x}-{:016x}-01", n, n);
    for n in 1..=3 {
        let value = traceparent(n);
        let headers = [("traceparent", value.as_str())];
        let reply = send_with(&shop, "GET", "/health", &headers, None).await?;
        assert_eq!(reply.status, 200);
    }
    let datadog = [("x-datadog-trace-id", "42"), ("x-datadog-parent-id", "7")];
    send_with(&shop, "GET", "/nowhere", &datadog, None).await?;
    get(&shop, "/health").await?;

    let log = shop.trace_log();
    assert_eq!(log.seen(), 4, "the untraced request is not counted");
    let kept = log.contexts();
    assert_eq!(kept.len(), 2, "bounded to the last two");
    assert_eq!(kept[0].traceparent, Some(traceparent(3)));
    assert_eq!(kept[1].datadog_trace_id.as_deref(), Some("42"));
    assert_eq!(kept[1].datadog_parent_id.as_deref(), Some("7"));

    let served = get(&shop, "/admin/trace-contexts").await?;
    assert_eq!(served.status, 200);
    assert_eq!(served.body["seen"], 4);
    assert_eq!(
        served.body["contexts"][0]["traceparent"],
        json!(traceparent(3))
    );
    assert_eq!(shop.stats().total(), 5, "reading the log is not a request");
    Ok(())
}

#[tokio::test]
async fn trace_log_is_off_by_default() -> TestResult {
    let shop = shop().await?;
    let headers = [(
        "traceparent",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    )];
    send_with(&shop, "GET", "/health", &headers, None).await?;
    assert_eq!(shop.trace_log().seen(), 0);
    assert!(shop.trace_log().contexts().is_empty());
    assert_eq!(get(&shop, "/admin/trace-contexts").await?.status, 404);
    Ok(())
}
