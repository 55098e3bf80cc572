// Package cli is olctl, the command line of the Open Lines portal SDK: every remote method of the protocol as
// a command, a connect wizard, a scripted connectivity check, a ready portal receiver, the connector server,
// the fake Bot Framework service and a one-process demo. cmd/olctl only calls Main.
//
//	go install github.com/olctl/olctl/cmd/olctl@latest   # or, in a checkout: make build (.bin/olctl)
//	olctl --version                                       # the version, its commit and the commit's date (--json: JSON)
//	source <(olctl completion bash)                       # also zsh, fish, powershell
//	make man                                              # man pages, one per command (MANDIR, .bin/man/man1)
//
// # Layout
//
// Each command is built by NewCmdX(f, runF) from a Factory and fills an XOptions struct from its flags and
// arguments; its run is xRun(opts). A test passes a runF to check the parsing without running anything. The
// Factory only constructs: it hands the streams (IO, with their terminal flags) and lazy constructors
// (HTTPClient, Config, Client) that build a value on first use. Errors are sorted into exit codes in one
// place, ExitCode, and reported by Run.
//
// # Configuration
//
// Every value has a key in the config file, a flag and an environment variable:
//
//	key          flag                      environment        default
//	server       --server                  OLCTL_SERVER       none: the connector server's base URL
//	domain       --domain                  OLCTL_DOMAIN       none: this portal's base URL (BX_DOMAIN)
//	licence_key  --licence-key             OLCTL_LICENCE_KEY  none
//	signing      --signing                 OLCTL_SIGNING      md5 (or hmac-sha256)
//	secret       --secret (repeatable)     OLCTL_SECRET       none: HMAC secrets, comma-separated; the first signs
//	connector    --connector               OLCTL_CONNECTOR    none: botframework, botframework.skype, echo, ...
//	line         --line                    OLCTL_LINE         none
//	profile      --profile                 OLCTL_PROFILE      current (or legacy: imconnector up to 21.x)
//	region       --region                  OLCTL_REGION       none: BX_REGION, sent by the current profile only
//	timeout      --timeout                 OLCTL_TIMEOUT      30s (a number is seconds): the whole call, retries included
//	retries      --retries                 OLCTL_RETRIES      3: retries of a read-only call after a network failure, 5xx, 429
//	output       --output, -o, --json      OLCTL_OUTPUT       table (or json)
//
// Precedence, strongest first: flags, OLCTL_* variables, the config file (--config FILE, else OLCTL_CONFIG,
// else $XDG_CONFIG_HOME/olctl/config.yaml, else ~/.config/olctl/config.yaml), defaults. Each run reads them
// through its own viper instance. A missing or invalid value is a usage error (exit 2) naming all three
// places, and one error names every value a command lacks:
//
//	$ olctl testConnect
//	olctl: missing licence key: set --licence-key, OLCTL_LICENCE_KEY or "licence_key" in /home/ann/.config/olctl/config.yaml
//	$ olctl register
//	olctl: missing server, licence key and line: set --server, --licence-key and --line (or OLCTL_SERVER, …)
//
// Three switches of a run are not configuration keys: --trace (or OLCTL_TRACE=1) prints on stderr every
// packet the command sends, or the server takes and sends, as package inspect traces it (its fields, DATA
// decoded as JSON, the signature's verdict, the answer, the notes, the time), the licence key, md5's shared
// secret, hmac secrets and the values of secret keys (app_secret, password, token, …) masked (olctl bf
// serve --trace: each call made to the fake Bot Framework and each activity it posts, its app secrets
// masked); --ca-file FILE (OLCTL_CA_FILE) trusts a test server's certificate too; --insecure verifies none.
//
// A key of the config file that olctl does not know is warned about on stderr, with the key it may mean.
// `olctl config view` names the config file it read or where it looked for one, and shows the effective
// values, secrets masked ("****" and the last four characters of a long one), and where each came from.
// Shell completion offers the values of --profile, --signing and --output, the connectors the server lists
// (listConnector) for --connector, and the kebab-case aliases.
//
// The profile is the Bitrix generation olctl acts as (docs/protocol.md §1). It governs the wire of every call
// (the empty-value stubs, BX_VERSION, BX_REGION, the headers), the acknowledgement of `olctl serve` (current:
// the OK answer; legacy: setStatusDelivered too) and, when set, the profile of the portals `olctl connector
// serve` accepts (unset: auto, told by each portal's BX_VERSION).
//
// # The portal database
//
// `olctl serve` keeps its state in the portal database: users, files, Bot Framework chat contexts and the
// status of each line (ACTIVE, CONNECTION, REGISTER, ERROR per real connector and line), which its line gate
// reads: receivingMessage and setChatName of a line that is not connected are refused with NOT_ACTIVE_LINE
// (docs/protocol.md §7). `olctl connect` writes the status there as it connects a line, and so do
// saveSettings, register, unregister and deleteConnector once the server accepted them. All of them take
// --db, defaulting to OLCTL_PORTAL_DB, else portal.db in the working directory, which is also where `olctl
// serve` keeps it (portal.db in its --data-dir, "." by default): run in one directory, they meet without a
// flag. `olctl send` reads the chat contexts from the --db it is given.
//
// # Commands
//
// Remote methods (docs/protocol.md §10), one command each, named as in the protocol (in any case: olctl
// testconnect) with a kebab-case alias; the methods bound to one connector of one line need --connector and
// --line; deleteConnector and deleteLine ask first on a terminal, unless --yes:
//
//	olctl saveSettings bot_handle=mybot app_id=1234 app_secret="$SECRET"  # save-settings; --from-file settings.yaml (order kept)
//	olctl testConnect                       # test-connect (needs --connector)
//	olctl register                          # register
//	olctl unregister                        # unregister
//	olctl deleteConnector                   # delete-connector
//	olctl readSettings                      # read-settings (secrets come back masked)
//	olctl infoConnect                       # info-connect
//	olctl infoConnectLink                   # info-connect-link
//	olctl listConnector                     # list-connector
//	olctl infoConnectorsLine 3              # info-connectors-line LINE
//	olctl deleteLine 3                      # delete-line LINE
//	olctl call anyMethod '{"a":1}' 42 text  # any method; each ARG is JSON when it parses, else a string
//
// The answer's DATA is printed as FIELD/VALUE rows (nested keys joined with ".", lists as [i], the server's
// key order kept), or with --json as {"method","connector","line","ok","data","line_status"}; connector-less
// methods report the CONNECTOR "all" and the empty LINE they went out with.
//
// The other commands:
//
//   - olctl connect: the connect wizard. It asks for what is missing (server, domain, licence key, connector,
//     line; for Bot Framework the bot handle, app id and app secret, the secrets without echo), asks to
//     confirm, runs saveSettings → testConnect → register with a line per step ("✓ saveSettings  12.3ms"),
//     writes the line's status after each step and prints the webhook URL to paste into the bot's messaging
//     endpoint. --yes and the flags (--bot-handle, --app-id, --app-secret, --set key=value) make it
//     non-interactive; on a non-terminal stdin it never prompts, and a missing value is exit 2. On a terminal
//     it offers the defaults it can know: a connector server and a portal receiver answering at their default
//     addresses (127.0.0.1:8080, :8090) as the server and the domain, and the first bot of a running bf serve
//     (its control, 127.0.0.1:3979, GET /bots) as the app id and secret; OLCTL_CONNECT_PROBE=0 turns that look
//     off (Factory.WizardHints). --save writes the server, domain and licence key (with hmac-sha256, the
//     signing and secret too) into the config file once connected, mode 0600, keeping its other keys and
//     comments, as `gh auth login` does. A bot (app id) connected on another line of the portal database (its
//     readSettings says so) moves: connect says so first, names the line and that the connector server
//     deactivates it, asks on a terminal and needs --yes otherwise, prints "✓ moved the bot from line 1" after
//     the steps, sets ERROR on that line in --db and names it in the JSON's moved_from. The moved line's
//     methods then answer NOT_ACTIVE_LINE saying where it went (olctl infoConnect --line 1).
//   - olctl check [--watch 30s]: the configuration; DNS, TCP and TLS to the server with their latency and the
//     certificate's expiry (verified as every call is: --ca-file, --insecure); a signed testConnect (skipped
//     without --connector), telling network failures, LICENCE_ERROR/REPLAY and other codes apart; the clock
//     skew against the server's Date header (a failure beyond the 300 s replay window with hmac-sha256, a
//     warning beyond 60 s); listConnector; the server's call back to the portal at --domain (a testConnect
//     with an empty LINE, which tests only the portal), its failure sorted by the cause the server names; with
//     --connector and --line, the line's status on the server (infoConnect) and in the portal database (--db):
//     a line deactivated or not connected on either side fails. Exit 0 all passed, 1 a check failed, 2 usage
//     or configuration; --watch repeats until interrupted (with --json, one JSON document per line).
//   - olctl send --chat ID [--file URL ...] TEXT: an operator message through sendMessage ("-" reads TEXT from
//     stdin; files travel as links; emoji become icon tags, --raw keeps TEXT as it is). It waits for the
//     server's answer, so that a refusal (NOT_ACTIVE_LINE, ...) is exit 1. With --connector botframework, a
//     chat the portal database knows under a virtual connector (botframework.webchat, as its messages came)
//     is answered with that one, which it says; another virtual one is exit 2 naming it.
//   - olctl serve --listen ADDR: a ready portal receiver (portal.New) at /pub/imconnector/; every event is one
//     readable line on a terminal ("2025-03-01 12:00:00  --> OnReceivedMessage [echo 2] chat c9 msg m9 Ann:
//     hi", as `stripe listen` prints), one JSON line when piped or with --json (or appended to --events
//     FILE). --admit-unknown-lines lets in the lines with no status; --icons, --smileys and --hex-escapes
//     switch the emoji steps; --big-file-warning replaces the text put before a message whose file was too
//     big; --allow-private-networks allows attachment downloads from loopback and private addresses.
//   - olctl connector serve --listen ADDR [--db DSN] [--licence-key K ...]: the connector server (portal
//     endpoint, webhooks, /metrics, /healthz, durable queue, dispatcher; --schedule, --batch,
//     --confirm-timeout, --public-url). Channels echo and botframework; --bf-fake URL points the Bot
//     Framework channel's token endpoint and keys at `olctl bf serve`. It says on start where its database is
//     (without --db, a temporary SQLite file deleted when it stops), the portals it accepts (licence keys
//     masked), their signing and profile, and which Bot Framework it talks to (the fake or Microsoft's).
//   - olctl connector queue stats|ls|dead --db DSN: the queue per line, the queued items, the dead letters
//     (--site, --line, --after, --limit, which says when more follow; --all pages through everything with a
//     progress line on a terminal). olctl connector queue redrive (--line, --site or --all) queues dead
//     letters again at the end of their lines, and queue retry LINE lifts a line's block; on SQLite they
//     write only while no server serves the file, on MySQL and PostgreSQL while it runs too.
//   - olctl portal dead|redrive [--db portal.db]: the portal database's dead letters (items whose processing
//     failed its last retry), and redrive: by id, --line, --connector or --all they are pending again, and the
//     running olctl serve tries them within a minute, in the order received (portal.OpenItems). Both are safe
//     while serve runs; on SQLite the write waits for serve's writer.
//   - olctl bf serve: the fake Bot Framework service, one bot per --app-id (so several lines, each with a bot
//     of its own); every call the bots make to its Connector API is one JSON line on stdout, and --trace
//     shows on stderr each call made to it and each activity it posts.
//   - olctl bf say --webhook URL TEXT: a customer message sent through the running `bf serve` (--via) to one
//     of its bots (--app-id), then the bot's replies to that conversation as JSON lines (--replies, --wait;
//     exit 1 when none came; --replies 0 does not wait).
//   - olctl demo [--messages N]: everything in one process on loopback ports and temporary SQLite files, a
//     customer message to the portal and an operator reply back, each hop with its time; with --messages N
//     also the rate and the p50/p90/p99 latency from the Bot Framework to the portal's event (the hops are
//     printed before the load starts).
//   - olctl emoji TEXT, olctl version (also olctl --version; JSON with --json, whatever the configuration),
//     olctl completion SHELL, olctl config view.
//
// # Everything by hand, in four terminals
//
//	olctl bf serve                                                    # 1: fake Bot Framework on :3978, control :3979
//	olctl connector serve --listen 127.0.0.1:8080 --db connector.db \
//	      --licence-key "$KEY" --bf-fake http://127.0.0.1:3978         # 2: connector server
//	export OLCTL_SERVER=http://127.0.0.1:8080 OLCTL_LICENCE_KEY=$KEY OLCTL_DOMAIN=http://127.0.0.1:8090
//	olctl serve --listen 127.0.0.1:8090 --db portal.db                # 3: portal receiver, events on stdout
//	olctl connect --connector botframework --line 1                   # 4: wizard; writes the line's status into portal.db
//	olctl bf say --webhook "$WEBHOOK" --conversation c1 --wait 60s "hello :wave:" &
//	olctl send --connector botframework.webchat --line 1 --chat c1 --db portal.db "Hi :smile:"  # bf say prints "Hi 😄"
//
// TestReadmeWalkthroughBinary runs these commands with the built binary in one directory;
// TestWalkthroughLineGate runs them in-process and moves the bot to another line, which the connector server
// answers with deactivateConnector: the first line is refused with NOT_ACTIVE_LINE until it is connected
// again.
//
// # Exit codes
//
//	0  success
//	1  the server answered an error (OK:false, e.g. NOT_ACTIVE_LINE), or a check failed
//	2  usage or configuration: a bad flag or argument, a missing or invalid value, a bad or busy listen address
//	3  network or transport: DNS, TCP, TLS, timeout, HTTP 405/413/5xx, an answer that is not the JSON envelope
//	4  signature or licence refused: LICENCE_ERROR, REPLAY, HASH_EMPTY
//	130  cancelled: Ctrl-C at a prompt or during a call (servers stop with 0)
//
// # Scripting
//
// Tables are for people: on a terminal they are drawn by tablewriter, fitted to its width (80 columns when
// unknown) by wrapping their cells; when stdout is not a terminal they are stable tab-separated text (a
// header line, then a line per row). --json (-o json, OLCTL_OUTPUT=json) prints
// exactly one JSON document on stdout with snake_case names, and on failure one document on stderr:
//
//	olctl check --json | jq -e '.ok' >/dev/null || alert "connector unreachable"
//	olctl connect --json --yes ... | jq -r .webhook_url
//	if ! out=$(olctl register --json 2>err.json); then jq -r '.error.codes[]' err.json; fi
//	# {"error":{"category":"auth","exit_code":4,"codes":["LICENCE_ERROR"],"message":"…"}}
//
// A flag or argument error is that JSON document too when the arguments ask for JSON, even if their parsing
// failed.
//
// Progress bars (demo --messages, queue ls --all) are drawn on a terminal's stderr only. No command prompts
// on a non-terminal stdin or with --yes; secrets are read without echo and never printed.
//
// # Measured
//
// `olctl demo --messages 2000` on a shared 2-core machine with a load average of about 11 from parallel builds
// (so lower bounds): the walkthrough's hops take 20–40 ms in all, most of it the customer's message from the
// webhook to the portal's event. Load, Bot Framework webhook to portal event, SQLite queue: 490 msg/s with p50
// 6.8 ms and p99 37 ms at --concurrency 1; 338 msg/s with p50 15 ms and p99 183 ms at --concurrency 4. More
// senders only queue behind SQLite's single writer, hence --concurrency 1 by default.
//
// # Tests
//
// go test -race ./cli runs every command in-process with buffers (no terminal, no real config file) against
// httptest servers that verify every packet with wire in both signing modes, and against the in-process
// connector server, portal and fake Bot Framework; a runF test per command checks its flags. Golden files
// (testdata/*.golden, rewritten by go test ./cli -update) hold the help, the tables and the plain output. The
// wizard is driven in a real terminal (tmux) by the built binary, which checks that secrets are not echoed.
package cli
