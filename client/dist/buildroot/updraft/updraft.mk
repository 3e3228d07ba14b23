################################################################################
#
# updraft
#
# NOT BUILT IN CI HERE: Updraft's CI has no Buildroot tree and cannot download target sources.
# A starting point for BR2_EXTERNAL, checked by reading only; see docs/device-integration.md.
# Buildroot's cargo infrastructure vendors the crates at download time (cargo vendor), so the
# build itself is offline. The host Rust must be at least 1.95 (the workspace's rust-version).
#
################################################################################

UPDRAFT_VERSION = main
UPDRAFT_SITE = $(call github,updraft,updraft,$(UPDRAFT_VERSION))
UPDRAFT_LICENSE = Apache-2.0
UPDRAFT_LICENSE_FILES = LICENSE
UPDRAFT_DEPENDENCIES = host-pkgconf openssl
# The client is one member of a Cargo workspace; build its manifest with the workspace's lock file.
UPDRAFT_SUBDIR = client
UPDRAFT_CARGO_BUILD_OPTS = --bin updraft
UPDRAFT_CARGO_INSTALL_OPTS = --bin updraft

define UPDRAFT_INSTALL_DIST_FILES
	$(INSTALL) -D -m 0600 $(@D)/client/dist/updraft.example.toml \
		$(TARGET_DIR)/etc/updraft/updraft.toml
	$(INSTALL) -D -m 0755 $(@D)/client/dist/rpi/updraft-tryboot-reboot \
		$(TARGET_DIR)/usr/lib/updraft/updraft-tryboot-reboot
	mkdir -p $(TARGET_DIR)/etc/updraft/state-scripts $(TARGET_DIR)/etc/updraft/inventory.d
endef
UPDRAFT_POST_INSTALL_TARGET_HOOKS += UPDRAFT_INSTALL_DIST_FILES

define UPDRAFT_INSTALL_INIT_SYSTEMD
	$(INSTALL) -D -m 0644 $(@D)/client/dist/updraft-agent.service \
		$(TARGET_DIR)/usr/lib/systemd/system/updraft-agent.service
endef

$(eval $(cargo-package))
