//! CloudEvents SQL v1 (placeholder; being written).
