from waiaas_cli.main import main

# The name users type, not "python -m waiaas_cli", in usage lines and --version.
main(prog_name="waiaas")
