"""`fate-pulumi import`: a KubeFATE cluster file as a fate-pulumi stack file.

    command           the command line: reads the files, checks every output before anything is written
    cluster           import_cluster: the cluster file mapped, then the checks of the result
    kubefate_v1_11/   KubeFATE v1.11.2's charts, one module each (fate, fate_exchange, fate_serving), and the top-level
                      keys and sections they share; a KubeFATE release whose charts differ gets a package beside it
    mapping           what every importer is built from: Result, Section, the shapes the charts share
    addresses         publicHost and the serving registry's namespace, from the file and its peers' files
    stack_file        the stack file written, or merged into an existing one
    passwords         the passwords, carried into Pulumi secrets by a script
"""

from fate_pulumi.importer.cluster import import_cluster
from fate_pulumi.importer.command import main
from fate_pulumi.importer.mapping import ClusterFileRefused, Result
from fate_pulumi.importer.passwords import Password, passwords, secrets_script, write_private
from fate_pulumi.importer.stack_file import to_stack_file

__all__ = ["ClusterFileRefused", "Password", "Result", "import_cluster", "main", "passwords", "secrets_script",
           "to_stack_file", "write_private"]
