# The two commands of the README, and the developer's measurements. Each
# target runs a script in server/scripts, which installs what it needs.
.PHONY: run test bench faults lists

run:    ## run crumb with its own local ClickHouse on :8080
	@server/scripts/run

test:   ## run every test (what CI runs)
	@server/scripts/test

bench:  ## measure ingest, writer and dashboard speed on this machine
	@server/scripts/bench

faults: ## the full fault suite (about 15 minutes)
	@server/scripts/faults

lists:  ## refresh the referrer lists (Ghost from npm, Matomo from GitHub)
	@server/scripts/lists
