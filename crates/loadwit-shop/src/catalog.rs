//! The product catalog: 200 products in 8 categories, built once per
//! process from fixed tables and served from precomputed JSON bodies.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use crate::reply::{self, push_array};

/// Products returned by `GET /api/catalog/products` without `limit`.
pub const DEFAULT_LIMIT: usize = 20;

/// The most products one `GET /api/catalog/products` returns.
pub const MAX_LIMIT: usize = 100;

/// Products per category and adjective.
const NOUNS: usize = 5;

/// Category slug, display name, price floor in cents, and product nouns.
#[rustfmt::skip]
const CATEGORIES: [(&str, &str, u64, [&str; NOUNS]); 8] = [
    ("books", "Books", 900,
        ["Novel", "Cookbook", "Atlas", "Field Guide", "Poetry Collection"]),
    ("electronics", "Electronics", 1900,
        ["Headphones", "Speaker", "Charger", "Keyboard", "Webcam"]),
    ("kitchen", "Kitchen", 1200,
        ["Kettle", "Skillet", "Knife Set", "Teapot", "Blender"]),
    ("garden", "Garden", 700,
        ["Trowel", "Planter", "Hose", "Seed Kit", "Pruner"]),
    ("toys", "Toys", 500,
        ["Puzzle", "Kite", "Robot", "Train Set", "Yo-Yo"]),
    ("sports", "Sports", 1100,
        ["Yoga Mat", "Water Bottle", "Tennis Racket", "Jump Rope", "Backpack"]),
    ("apparel", "Apparel", 1500,
        ["Hoodie", "Raincoat", "Scarf", "Sneakers", "Beanie"]),
    ("office", "Office", 400,
        ["Notebook", "Desk Lamp", "Fountain Pen", "Stapler", "Monitor Stand"]),
];

const ADJECTIVES: [&str; 5] = ["Classic", "Compact", "Deluxe", "Everyday", "Studio"];

/// One product, as serialized in every catalog response.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Product {
    pub id: u32,
    pub slug: String,
    pub name: String,
    pub category: &'static str,
    pub price_cents: u64,
    pub currency: &'static str,
    pub stock: u32,
    pub description: String,
}

#[derive(Serialize)]
struct Category {
    slug: &'static str,
    name: &'static str,
    product_count: usize,
}

/// The catalog with every response body that does not depend on the
/// request already serialized.
pub(crate) struct Catalog {
    products: Vec<Product>,
    by_slug: HashMap<String, usize>,
    /// `GET /api/catalog/products/{slug}` bodies, one per product.
    details: Vec<Bytes>,
    /// `GET /api/catalog/products?limit=N` bodies, indexed by `N`.
    lists: Vec<Bytes>,
    categories: Bytes,
    /// Lowercase name and category name of each product, for search.
    haystacks: Vec<(String, String)>,
}

/// The process-wide catalog; every shop serves the same data.
pub(crate) fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(Catalog::build)
}

impl Catalog {
    fn build() -> Self {
        let count = CATEGORIES.len() * ADJECTIVES.len() * NOUNS;
        let products: Vec<Product> = (0..count).map(product).collect();
        let by_slug = products
            .iter()
            .enumerate()
            .map(|(i, p)| (p.slug.clone(), i))
            .collect();
        let details: Vec<Bytes> = products.iter().map(to_bytes).collect();
        let lists = (0..=MAX_LIMIT)
            .map(|n| list_body(n, products.len(), &details[..n]))
            .collect();
        let haystacks = products.iter().map(haystack).collect();
        Self {
            categories: categories_body(&products),
            products,
            by_slug,
            details,
            lists,
            haystacks,
        }
    }

    pub(crate) fn by_slug(&self, slug: &str) -> Option<&Product> {
        self.by_slug.get(slug).map(|&i| &self.products[i])
    }

    /// Indices of products whose name or category contains `term`,
    /// which must already be lowercase.
    fn search(&self, term: &str) -> Vec<usize> {
        let hits =
            |(name, category): &(String, String)| name.contains(term) || category.contains(term);
        let indexed = self.haystacks.iter().enumerate();
        indexed.filter(|(_, h)| hits(h)).map(|(i, _)| i).collect()
    }
}

/// The `i`th product. Categories take turns so any prefix of the list
/// spans all of them; prices and stock come from a fixed hash of `i`.
fn product(i: usize) -> Product {
    let (category, category_name, floor, nouns) = CATEGORIES[i % CATEGORIES.len()];
    let within = i / CATEGORIES.len();
    let adjective = ADJECTIVES[within % ADJECTIVES.len()];
    let noun = nouns[within / ADJECTIVES.len()];
    let name = format!("{adjective} {noun}");
    let hash = mix(i as u64);

    Product {
        id: i as u32 + 1,
        slug: name.to_lowercase().replace(' ', "-"),
        description: format!("{name}, from our {category_name} range."),
        name,
        category,
        price_cents: (floor + hash % 9_000) / 100 * 100 + 99,
        currency: "USD",
        stock: 5 + (hash >> 32) as u32 % 195,
    }
}

fn haystack(product: &Product) -> (String, String) {
    let category = category_name(product.category);
    (product.name.to_lowercase(), category.to_lowercase())
}

fn category_name(slug: &str) -> &'static str {
    CATEGORIES.iter().find(|c| c.0 == slug).map_or("", |c| c.1)
}

/// SplitMix64: a fixed, well-spread hash, so the data never changes.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn to_bytes(value: &impl Serialize) -> Bytes {
    Bytes::from(serde_json::to_vec(value).expect("catalog data serializes"))
}

/// `{"count":N,"total":T,"products":[...]}` from serialized products.
fn list_body(count: usize, total: usize, products: &[Bytes]) -> Bytes {
    let mut out = format!(r#"{{"count":{count},"total":{total},"products":"#).into_bytes();
    push_array(&mut out, products.iter().map(|b| &b[..]));
    out.push(b'}');
    out.into()
}

fn categories_body(products: &[Product]) -> Bytes {
    let categories: Vec<Category> = CATEGORIES
        .iter()
        .map(|&(slug, name, ..)| Category {
            slug,
            name,
            product_count: products.iter().filter(|p| p.category == slug).count(),
        })
        .collect();
    #[derive(Serialize)]
    struct Body {
        categories: Vec<Category>,
    }
    to_bytes(&Body { categories })
}

#[derive(Deserialize)]
pub(crate) struct ListParams {
    limit: Option<String>,
}

/// `GET /api/catalog/products?limit=N`
pub(crate) async fn list(query: Result<Query<ListParams>, QueryRejection>) -> Response {
    let limit = match query.map(|Query(q)| q.limit) {
        Ok(None) => DEFAULT_LIMIT,
        Ok(Some(limit)) => match limit.parse::<usize>() {
            Ok(n) => n.min(MAX_LIMIT),
            Err(_) => return bad_limit(),
        },
        Err(_) => return bad_limit(),
    };
    reply::raw(StatusCode::OK, catalog().lists[limit].clone())
}

fn bad_limit() -> Response {
    let message = "`limit` must be a whole number; e.g. `limit=20`";
    reply::error(StatusCode::BAD_REQUEST, message)
}

/// `GET /api/catalog/products/{slug}`
pub(crate) async fn detail(Path(slug): Path<String>) -> Response {
    let catalog = catalog();
    match catalog.by_slug.get(&slug) {
        Some(&i) => reply::raw(StatusCode::OK, catalog.details[i].clone()),
        None => reply::error(StatusCode::NOT_FOUND, &format!("no product `{slug}`")),
    }
}

/// `GET /api/catalog/categories`
pub(crate) async fn categories() -> Response {
    reply::raw(StatusCode::OK, catalog().categories.clone())
}

#[derive(Deserialize)]
pub(crate) struct SearchParams {
    q: Option<String>,
}

/// `GET /api/search?q=term`: case-insensitive substring match on the
/// product name and category name, every hit returned.
pub(crate) async fn search(query: Result<Query<SearchParams>, QueryRejection>) -> Response {
    let term = query.ok().and_then(|Query(q)| q.q).unwrap_or_default();
    let term = term.trim();
    if term.is_empty() {
        let message = "`q` is required; e.g. `/api/search?q=lamp`";
        return reply::error(StatusCode::BAD_REQUEST, message);
    }

    let catalog = catalog();
    let hits = catalog.search(&term.to_lowercase());
    let mut out = br#"{"query":"#.to_vec();
    reply::push_json_str(&mut out, term);
    out.extend_from_slice(format!(r#","count":{},"products":"#, hits.len()).as_bytes());
    push_array(&mut out, hits.iter().map(|&i| &catalog.details[i][..]));
    out.push(b'}');
    reply::raw(StatusCode::OK, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_has_200_unique_slugs_in_8_categories() {
        let catalog = catalog();
        assert_eq!(catalog.products.len(), 200);
        assert_eq!(catalog.by_slug.len(), 200);
        for (slug, ..) in CATEGORIES {
            let n = catalog
                .products
                .iter()
                .filter(|p| p.category == slug)
                .count();
            assert_eq!(n, 25, "{slug}");
        }
    }

    #[test]
    fn list_bodies_are_valid_json_with_their_count() {
        for (n, body) in catalog().lists.iter().enumerate() {
            let value: serde_json::Value = serde_json::from_slice(body).unwrap();
            assert_eq!(value["products"].as_array().unwrap().len(), n);
            assert_eq!(value["count"], n);
        }
    }

    #[test]
    fn search_matches_category_names_too() {
        assert_eq!(catalog().search("book").len(), 25 + 5);
    }
}
