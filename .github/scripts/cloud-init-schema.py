# cloud-init-schema: `cloud-init schema` from cloud-init's own package, validation only. It never
# looks up or saves a datasource (run as root, plain `cloud-init schema` writes
# /run/cloud-init/instance-data*.json). Both installers (.github/scripts/install-validators.sh,
# .ci/install-validators.sh) put this file beside the unpacked cloud-init.
import sys
import cloudinit.config.schema as _schema
from cloudinit.cmd.devel import read_cfg_paths as _read_cfg_paths
_schema.read_cfg_paths = lambda fetch_existing_datasource="": _read_cfg_paths()
from cloudinit.cmd.main import main
sys.exit(main(["cloud-init", "schema", *sys.argv[1:]]))
