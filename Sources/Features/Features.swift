// Features: image preprocessing and EfficientNet conv-net inference from weights on
// disk, producing one embedding row per image. Imports only TagganCore; decoded pixels
// arrive as plain data from Ingest. Built by the Features issue; nothing is here yet.
