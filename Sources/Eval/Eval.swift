// Eval: the tagging methods and how they are judged. Decoders over a generator's
// samples (the paper's vote, kernel density, CSLS), nearest-word search, the anchors
// (frequency prior, k-NN transfer, TagProp, ridge heads, ConSE), fusion, calibration,
// metrics with bootstrap intervals, reports, annotation files, and `TagMethods`, which
// builds every method from the setting `taggan eval` records in W/methods.json.
// Imports only TagganCore.
