"""zoo publish: validate a package and publish it as a new immutable revision."""

from pathlib import Path

import click

from zoo.cli.options import quiet_option, show_progress


@click.command()
@click.argument("package_dir", type=click.Path(file_okay=False))
@click.argument("ref")
@click.option("--tag", help="Name this revision (a git tag), e.g. v1.")
@click.option("--move-tag", is_flag=True, help="Move --tag if it names another revision.")
@click.option("--private", is_flag=True, help="hf:// only: create the repository private.")
@click.option("--sign", "sign_key", type=click.Path(dir_okay=False, exists=True),
              help="Sign the package with this EC P-256 private key (PEM); the signature "
                   "travels as model.sig and the card names the signer.")
@quiet_option
def publish(package_dir: str, ref: str, tag: str | None, move_tag: bool, private: bool,
            sign_key: str | None, quiet: bool) -> None:
    """Validate a package and publish it as a new immutable revision.

    hf:// publishes through huggingface_hub: the repo is created if needed, the
    package committed in one commit and tagged; HF_TOKEN and HF_ENDPOINT apply.

    \b
    Examples:  zoo publish iris-pkg iris --tag v1
               zoo publish iris-pkg file:///srv/zoo-hub/acme/iris
               zoo publish iris-pkg hf://acme/iris --tag v1 --private
               zoo publish iris-pkg iris --tag v2 --sign ~/.zoo/key.pem
    """
    from zoo.hub.hf import set_progress
    from zoo.hub.publish import publish as publish_package

    set_progress(show_progress(quiet))
    hub_ref, result = publish_package(Path(package_dir), ref, tag=tag, move_tag=move_tag,
                                      private=private,
                                      sign_key=Path(sign_key) if sign_key else None)
    state = "published" if result.created else "unchanged, already published as"
    named = f" (tag {result.tag})" if result.tag else ""
    click.echo(f"{state} {hub_ref.at(None)}@{result.revision}{named}")


COMMANDS = [publish]
