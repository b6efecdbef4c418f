//! How much of each pooled resource one instance of a component takes.
//!
//! The pooling allocator reserves slots up front, so it must be sized from
//! the component actually loaded: a Rust guest has a handful of core
//! instances and one memory, a Python guest over a dozen core modules.

use wasmparser::{Parser, Payload};

/// Per-instance needs of one component, read from its binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Footprint {
    pub core_instances: u32,
    pub memories: u32,
    pub tables: u32,
    pub max_tables_per_module: u32,
    pub max_memories_per_module: u32,
    pub max_table_elements: u64,
}

impl Footprint {
    /// Counts what instantiating `bytes` once allocates. Unparseable input
    /// yields the minimum; compiling reports the real error later.
    pub(crate) fn of(bytes: &[u8]) -> Self {
        let mut footprint = Self {
            core_instances: 0,
            memories: 0,
            tables: 0,
            max_tables_per_module: 1,
            max_memories_per_module: 1,
            max_table_elements: 0,
        };
        for payload in Parser::new(0).parse_all(bytes) {
            let Ok(payload) = payload else { break };
            footprint.count(&payload);
        }
        footprint.core_instances = footprint.core_instances.max(1);
        footprint
    }

    fn count(&mut self, payload: &Payload<'_>) {
        match payload {
            Payload::InstanceSection(section) => self.core_instances += section.count(),
            Payload::MemorySection(section) => {
                self.memories += section.count();
                self.max_memories_per_module = self.max_memories_per_module.max(section.count());
            }
            Payload::TableSection(section) => {
                self.tables += section.count();
                self.max_tables_per_module = self.max_tables_per_module.max(section.count());
                for table in section.clone().into_iter().flatten() {
                    self.max_table_elements = self.max_table_elements.max(table.ty.initial);
                }
            }
            _ => {}
        }
    }
}
