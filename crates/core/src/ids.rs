use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        // A plain number in TypeScript too (ids stay far below 2^53).
        #[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(type = "number"))]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// Row id of an image in the catalog. Stable for the life of the catalog: a moved or
    /// changed file keeps its id, and with it everything attached to it.
    ImageId
);
id_type!(
    /// Row id of an imported folder (or the folder of an imported single file).
    RootId
);
id_type!(
    /// Row id of a background job (an import run).
    JobId
);
id_type!(
    /// Row id of a model (a set of weights) in the catalog.
    ModelId
);
id_type!(
    /// Row id of a pre-labeling run: a model with fixed parameters.
    RunId
);

pub(crate) use id_type;
