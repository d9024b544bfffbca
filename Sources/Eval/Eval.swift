// Eval: the sampling protocol (100 samples, 20 nearest words each, 10 most common),
// nearest-word search, metrics, baselines, reports and XMP sidecars. Imports only
// TagganCore. Built by the Eval issue; nothing is here yet.
