//! TEMPORARY until mergeable results land.
use loadwit_metrics::Aggregate;
pub trait EncodeShim {
    fn encode(&self) -> Vec<u8>;
    fn decode(bytes: &[u8]) -> Result<Aggregate, String>;
}
impl EncodeShim for Aggregate {
    fn encode(&self) -> Vec<u8> {
        Vec::new()
    }
    fn decode(_bytes: &[u8]) -> Result<Aggregate, String> {
        Ok(Aggregate::default())
    }
}
