# tlscap — everything installs itself from nothing on a fresh Debian machine (as root).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
APT_PACKAGES := tshark tcpdump openssl curl nginx apache2 default-jre-headless chromium
SAMPLE ?= samples/tls12-expired-client-cert.pcap

.PHONY: demo test lint bench golden samples system-deps venv clean fuzz

demo: $(STAMP)
	$(PY) -m tlscap analyze $(SAMPLE) --format text --all --fail-on never

test: system-deps $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check tlscap tests
	$(VENV)/bin/mypy tlscap

# Builds (once, cached in $${TLSCAP_BENCH_CACHE:-/var/tmp/tlscap-bench}) 10 MB / 100 MB / 1 GB captures,
# then times tlscap against tshark on them. Needs root (network namespace for the seed capture).
bench: system-deps $(STAMP)
	bash benchmarks/run.sh

# Long mutation-fuzzing run over the corpus and the samples (tests/fuzz_mutate.py); new failures are
# minimized into tests/fuzz/. FUZZ_ARGS adds options, e.g. FUZZ_ARGS="--seed 7 --jobs 8".
FUZZ_CASES ?= 100000
fuzz: $(STAMP)
	$(PY) tests/fuzz_mutate.py --cases $(FUZZ_CASES) $(FUZZ_ARGS)

golden: $(STAMP)
	$(PY) tests/regen_golden.py

samples: system-deps $(STAMP)
	bash samples/make_samples.sh

# samples/client-stacks/: Java, Go and other TLS stacks as mutual-TLS clients of nginx; needs
# OpenJDK 17, golang-go, gcc, gnutls-bin, wget, chromium, firefox-esr, libnss3-tools (the script says what is missing).
.PHONY: samples-client-stacks
samples-client-stacks: system-deps $(STAMP)
	bash samples/make_client_stacks.sh

# samples/dtls/: DTLS 1.2 mutual authentication between openssl s_server -dtls1_2 and s_client on
# loopback, with the client's key logs (as root: tcpdump on lo). CASES="dtls12-success ..." makes only those.
# No DTLS 1.3 case: the installed OpenSSL and GnuTLS have none (samples/dtls/README.md).
.PHONY: samples-dtls
samples-dtls: system-deps $(STAMP)
	bash samples/make_dtls.sh $(CASES)

# Debian packages the tests drive (tshark is the oracle; openssl/nginx/curl/tcpdump make captures).
system-deps:
	@missing=""; \
	for p in tshark tcpdump openssl curl nginx apache2 keytool chromium; do command -v $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages for:$$missing"; \
	  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(APT_PACKAGES); \
	fi

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
