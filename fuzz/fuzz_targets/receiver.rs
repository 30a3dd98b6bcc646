//! The receiver's state machine (`livemig kvm receive` without its VM): frames read as
//! `serve` reads them ([`remote::read_message`]: order and length checked on the header), the
//! `Hello`'s scenario validated and planned for, every payload parsed and checked as the
//! receiver does before acting on it. Whatever the bytes, the stages only move forward and
//! nothing follows `Finish`.
#![no_main]
use livemig_runner::kvm::dest::MigratedState;
use livemig_runner::kvm::guest::{Layout, Planner, MAX_MEMORY};
use livemig_runner::kvm::remote;
use livemig_runner::kvm::wire::{self, Hello, Kind, Limits, Stage};

livemig_fuzz::fuzz_target!(|data: &[u8]| {
    let mut reader = data;
    let mut stage = Stage::AwaitHello;
    let mut limits = Limits::new(0, MigratedState::wire_bytes());
    let mut guest: Option<(Planner, f64)> = None;
    let mut postcopy = false;
    while let Ok((kind, payload)) = remote::read_message(&mut reader, stage, &limits) {
        if kind == Kind::Hello {
            let Ok(hello) = serde_json::from_slice::<Hello>(&payload) else { return };
            let s = hello.scenario;
            if s.validate().is_err() || s.vm.page_size.0 != wire::PAGE as u64 || s.vm.memory.0 > MAX_MEMORY {
                return;
            }
            postcopy = hello.postcopy;
            limits.pages = s.page_count();
            guest = Some((Planner::new(&s, Layout::new(s.page_count(), s.used_pages())), remote::max_guest_time(&s)));
        }
        let next = stage.next(kind, postcopy).expect("read_message accepted the kind at this stage");
        let ok = match kind {
            Kind::Pages => wire::parse_records(&payload, limits.pages).is_ok(),
            Kind::Discard => wire::parse_discard(&payload, limits.pages).is_ok(),
            Kind::State => {
                let (planner, max_time) = guest.as_ref().expect("State comes after Hello");
                remote::parse_state(&payload, planner, *max_time).is_ok()
            }
            Kind::Finish => wire::parse_finish(&payload).is_ok(),
            _ => true,
        };
        if !ok {
            return;
        }
        stage = next;
        if stage == Stage::Finished {
            assert!(stage.next(Kind::Pages, postcopy).is_err());
            return;
        }
    }
});
