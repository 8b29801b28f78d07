from waiaas_mcp.server import main

main()
