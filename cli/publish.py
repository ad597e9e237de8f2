"""zoo publish: validate a package and publish it as a new immutable revision."""


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
    import zoo

    zoo.progress_bars(show_progress(quiet))
    published = zoo.publish(package_dir, ref, tag=tag, move_tag=move_tag, private=private,
                            sign_key=sign_key)
    state = "published" if published.created else "unchanged, already published as"
    named = f" (tag {published.tag})" if published.tag else ""
    click.echo(f"{state} {published.ref}@{published}{named}")


COMMANDS = [publish]
