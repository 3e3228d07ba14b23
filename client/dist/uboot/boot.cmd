# Updraft A/B slot selection for U-Boot: the source of boot.scr.
#   mkimage -A arm64 -O linux -T script -C none -d boot.cmd boot.scr
# and put boot.scr where U-Boot's distro boot looks (the boot FAT partition, p1). The env variables
# (boot_slot, upgrade_available, bootcount, bootlimit, ustate) are the client's U-Boot backend's
# (client/src/slots/uboot.rs, docs/device-integration.md); `updraft` writes them through the
# fw_env.config of the board. The part up to the marker line below is the client's BOOT_SCR, byte
# for byte, and client/tests/qemu_uboot.rs boots this very file in Debian's U-Boot under QEMU,
# replacing only the kernel part after the marker (the test has no kernel) and `saveenv` (QEMU's
# pflash env times out there; with ENV_IS_IN_FAT or ENV_IS_IN_MMC `saveenv` works as written).
test -n "${boot_slot}" || setenv boot_slot A
test -n "${bootlimit}" || setenv bootlimit 1
if test "${upgrade_available}" = 1; then
  test -n "${bootcount}" || setenv bootcount 0
  setexpr bootcount ${bootcount} + 1
  if test ${bootcount} -gt ${bootlimit}; then
    if test "${boot_slot}" = A; then setenv boot_slot B; else setenv boot_slot A; fi
    setenv upgrade_available 0; setenv bootcount 0; setenv ustate 3
  fi
  saveenv
fi
if test "${boot_slot}" = A; then setenv mmcpart 2; else setenv mmcpart 3; fi
setenv bootargs "${bootargs} root=/dev/mmcblk0p${mmcpart} updraft.slot=${boot_slot}"
# -- updraft: boot the selected slot --
# Kernel and device tree come from /boot of the selected slot's root filesystem, so a slot's kernel
# is updated with it. File names and addresses are board-specific: adjust them.
load ${devtype} ${devnum}:${mmcpart} ${kernel_addr_r} /boot/Image
load ${devtype} ${devnum}:${mmcpart} ${fdt_addr_r} /boot/${fdtfile}
booti ${kernel_addr_r} - ${fdt_addr_r}
# Nothing booted (missing kernel): reset, so a trial counts this as a failed boot.
echo "updraft: slot ${boot_slot} (partition ${mmcpart}) did not boot; resetting"
reset
