# ModelSmith — `make demo` and `make test` work on a fresh Debian machine with Swift 6.3.
APT_PACKAGES := libarchive-dev libzstd-dev libdnnl-dev pkg-config libonnx-testdata
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
SWIFT ?= swift

.PHONY: deps build release test demo bench clean

deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

test: deps
	$(SWIFT) build
	$(SWIFT) test

demo: release
	./scripts/demo.sh

# The Benchmarks package depends on ".." by path; SwiftPM keeps its build plan across files added
# there, so the plan is dropped first (nothing up to date is recompiled).
bench: release
	rm -f Benchmarks/.build/release.yaml
	$(SWIFT) build -c release --package-path Benchmarks
	./Benchmarks/.build/release/modelsmith-bench

clean:
	rm -rf .build Benchmarks/.build
