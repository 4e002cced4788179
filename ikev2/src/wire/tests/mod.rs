//! Codec tests: golden bytes built from the RFC figures, property round trips, hostile shapes.
