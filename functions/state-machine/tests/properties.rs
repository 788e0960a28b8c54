//! Properties: no definition text makes the loader panic; a valid one never sends an
//! instance to a state that is not in it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use fnmesh_state_machine::definition::Definition;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn any_text_loads_or_fails_cleanly(text in "[ -~\n]{0,120}") {
        let _ = Definition::parse(&text, None, None);
    }

    #[test]
    fn transitions_stay_inside_the_machine(
        edges in proptest::collection::vec(("[A-C]?", "[a-c]", "[A-C]?"), 1..12),
        walk in proptest::collection::vec("[a-c]", 0..20),
    ) {
        let mut yaml = String::new();
        for state in ["", "A", "B", "C"] {
            let events: Vec<String> = edges.iter().filter(|(from, _, _)| from == state).map(|(_, e, to)| format!("{e}: '{to}'")).collect();
            yaml.push_str(&format!("'{state}': {{events: {{{}}}}}\n", events.join(", ")));
        }
        let Ok(definition) = Definition::parse(&yaml, Some("m"), Some("1")) else { return Ok(()) };
        let mut state = String::new();
        for event in walk {
            if let Ok(next) = definition.next(&state, &event) {
                prop_assert!(definition.states.contains_key(next));
                state = next.to_owned();
            }
        }
    }
}
