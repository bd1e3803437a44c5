//! Empty: this package only pins `easy-yolo` so `cargo fetch` downloads the default model.
