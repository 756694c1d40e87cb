"""``recaudo deploy``: deployment artefacts generated from the code.

Registered on the main CLI with ``cli.add_command(deploy)``. Nothing here talks
to a cluster: the commands print or write files, so they run anywhere.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from recaudo.deploy.k8s import K8sOptions

F = TypeVar("F", bound=Callable[..., Any])

_DEFAULTS = K8sOptions()


def _cluster_options(func: F) -> F:
    """Options shared by the commands that render Kubernetes resources."""
    options = [
        click.option("--namespace", default=_DEFAULTS.namespace, show_default=True),
        click.option(
            "--cluster",
            default=_DEFAULTS.cluster,
            show_default=True,
            help="Name of the Strimzi Kafka resource.",
        ),
        click.option("--prefix", default=_DEFAULTS.prefix, show_default=True, help="Topic prefix."),
        click.option(
            "--partitions",
            type=click.IntRange(1),
            default=_DEFAULTS.partitions,
            show_default=True,
            help="Partitions of the keyed topics: the most stream workers and connector "
            "replicas that get work. Cannot be raised later without moving debtors.",
        ),
        click.option(
            "--replication-factor",
            type=click.IntRange(1),
            default=_DEFAULTS.replication_factor,
            show_default=True,
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@click.group()
def deploy() -> None:
    """Deployment files generated from the code (Kubernetes, topics, configuration).

    \b
      recaudo deploy k8s --out deploy/k8s      Strimzi Kafka, topics, Deployments
      recaudo deploy topics                    the catalogue's KafkaTopics on stdout
      recaudo deploy config-reference          every setting, as markdown
    """


@deploy.command("k8s")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("deploy/k8s"),
    show_default=True,
    help="Directory to write the manifests to.",
)
@_cluster_options
@click.option("--image", default=_DEFAULTS.image, show_default=True, help="The recaudo image.")
@click.option(
    "--stream-replicas",
    type=click.IntRange(1),
    default=_DEFAULTS.stream_replicas,
    show_default=True,
    help="Stream workers (capped at --partitions).",
)
@click.option(
    "--otel-endpoint",
    default=_DEFAULTS.otel_endpoint,
    show_default=True,
    help="OTLP/HTTP collector the pods send traces and metrics to.",
)
@click.option(
    "--check",
    is_flag=True,
    help="Write nothing; exit 1 if --out differs from what would be generated.",
)
def k8s_cmd(
    out: Path,
    namespace: str,
    cluster: str,
    prefix: str,
    partitions: int,
    replication_factor: int,
    image: str,
    stream_replicas: int,
    otel_endpoint: str,
    check: bool,
) -> None:
    """Write the Kubernetes manifests (multi-document YAML) to --out."""
    from recaudo.deploy.k8s import drift, write_manifests

    options = K8sOptions(
        namespace=namespace,
        cluster=cluster,
        prefix=prefix,
        partitions=partitions,
        replication_factor=replication_factor,
        image=image,
        stream_replicas=stream_replicas,
        otel_endpoint=otel_endpoint,
    )
    if check:
        problems = drift(out, options)
        for problem in problems:
            click.echo(problem, err=True)
        if problems:
            click.echo("regenerate with `recaudo deploy k8s`", err=True)
            sys.exit(1)
        click.echo(f"{out}: up to date")
        return
    for path in write_manifests(out, options):
        click.echo(f"wrote {path}")


@deploy.command("topics")
@_cluster_options
def topics_cmd(
    namespace: str, cluster: str, prefix: str, partitions: int, replication_factor: int
) -> None:
    """Print one Strimzi KafkaTopic per catalogue topic (YAML)."""
    from recaudo.deploy.k8s import render_topics

    options = K8sOptions(
        namespace=namespace,
        cluster=cluster,
        prefix=prefix,
        partitions=partitions,
        replication_factor=replication_factor,
    )
    click.echo(render_topics(options), nl=False)


@deploy.command("config-reference")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file (e.g. deploy/CONFIGURATION.md) instead of stdout.",
)
@click.option(
    "--check",
    is_flag=True,
    help="With --out: write nothing; exit 1 if the file differs from the generated one.",
)
def config_reference_cmd(out: Path | None, check: bool) -> None:
    """Every setting: environment variables, type, default, secret or not (markdown)."""
    from recaudo.deploy.config_reference import config_reference_markdown

    text = config_reference_markdown()
    if out is None:
        if check:
            raise click.UsageError("--check needs --out")
        click.echo(text, nl=False)
        return
    if check:
        current = out.read_text(encoding="utf-8") if out.exists() else None
        if current != text:
            click.echo(
                f"{out}: differs; regenerate with `recaudo deploy config-reference`", err=True
            )
            sys.exit(1)
        click.echo(f"{out}: up to date")
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    click.echo(f"wrote {out}")
