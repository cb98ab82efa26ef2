//! The NOP loop the NOP benches share: `ops` NOPs on `driver`'s `block_on`
//! under a `FuturesUnordered` (an executor task per operation, the way most
//! code drives many futures), refilled to keep `in_flight` of them going.

use futures::stream::{FuturesUnordered, StreamExt};
use proactor::op::{Nop, Op};
use proactor::Driver;

pub fn proactor_nops(driver: &Driver, in_flight: usize, ops: usize) {
    driver.block_on(async {
        let mut pending = FuturesUnordered::new();
        let mut issued = 0;
        while issued < ops || !pending.is_empty() {
            while pending.len() < in_flight && issued < ops {
                pending.push(Op::with_driver(Nop::new(), driver.clone()));
                issued += 1;
            }
            pending.next().await.expect("in flight").expect("nop");
        }
    })
}
