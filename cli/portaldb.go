package cli

// The portal database: where `olctl serve` keeps its state (users, files, Bot Framework chat contexts, line
// statuses), which `olctl send` reads the chat contexts from.
const envPortalDB = envPrefix + "PORTAL_DB"
