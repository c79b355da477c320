//! The link reader on arbitrary queries: it may refuse them, never panic,
//! and a link it reads is one its writer writes back, read again the same.
#![no_main]

use filters_are_weights::link::RunLink;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let query = String::from_utf8_lossy(data);
    if let Ok(Some(link)) = RunLink::parse(&query) {
        let written = link.to_query().expect("a link read can be written");
        assert_eq!(RunLink::parse(&written), Ok(Some(link)), "{written}");
    }
});
