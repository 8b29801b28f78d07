from waiaas_cli.main import main

main()
